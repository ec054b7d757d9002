"""Moved to :mod:`dive_bench.metrics.coco` (torch-free, so ``dive-bench check`` can score
detections from run.json files without loading torch). This module keeps the old import path."""

from ..metrics.coco import (STAT_NAMES, GroundTruth, bootstrap_ap, coco_ap, detections_of,  # noqa: F401
                            ground_truth_of, paired_ap_drops, read_detections, resample_images, xywh_to_xyxy,
                            xyxy_to_xywh)

__all__ = ["STAT_NAMES", "bootstrap_ap", "coco_ap", "detections_of", "ground_truth_of", "paired_ap_drops",
           "read_detections", "resample_images", "xywh_to_xyxy", "xyxy_to_xywh"]
