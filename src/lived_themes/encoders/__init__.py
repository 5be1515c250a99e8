"""Sentence encoders, the infrastructure shared by coders, topic models and active learning."""
