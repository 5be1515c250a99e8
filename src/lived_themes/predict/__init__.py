"""Apply a saved coder to new text: in one process (:mod:`.local`) or on a cluster (:mod:`.distributed`)."""

from lived_themes.predict.local import predict_file, predict_records, read_predictions

__all__ = ["predict_file", "predict_records", "read_predictions"]
