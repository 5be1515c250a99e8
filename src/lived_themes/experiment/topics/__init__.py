"""The topic branch of the run pipeline: fit topic models, align them with codes, score them as coders."""
