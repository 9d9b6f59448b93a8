"""Loads a run folder's TensorBoard event files with TensorBoard's own reader and prints, as JSON,
every scalar tag with its number of points and its first and last step."""
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

acc = EventAccumulator(sys.argv[1])
acc.Reload()
out = {}
for tag in acc.Tags()["scalars"]:
    points = acc.Scalars(tag)
    out[tag] = {"n": len(points), "first": points[0].step, "last": points[-1].step,
                "values": [p.value if p.value == p.value else None for p in points]}  # NaN -> null
print(json.dumps(out))
