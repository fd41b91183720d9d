"""The scoring protocol: metrics, feature extractors, FID and energy."""
from sdmbench.scoring.columns import Column
from sdmbench.scoring.extractor import FeatureExtractor
from sdmbench.scoring.metric import Metric, Scores, ScoringContext
from sdmbench.scoring.protocol import protocol_key

__all__ = ["Column", "FeatureExtractor", "Metric", "Scores", "ScoringContext", "protocol_key"]
