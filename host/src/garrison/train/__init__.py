"""Building labelled sets for model training from the journal's signals and outcomes."""

from garrison.train.dataset import Labelled, TrainDataError, labelled_set

__all__ = ["Labelled", "TrainDataError", "labelled_set"]
