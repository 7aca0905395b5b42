#!/usr/bin/python3
"""torchrun, mended where its own option parsing fails: Debian's torch 1.13 under Python 3.11.

Python 3.11 stopped listing a Flag's zero member when iterating it, so torch 1.13's
Std.from_str("0") (the default --redirects and --tee) finds no member and returns None, and
torchrun stops with "AttributeError: 'NoneType' object has no attribute 'get'" before any rank
starts. src/train/pytorch/launch.ts runs torchrun through this file when its probe sees that;
everything else is torch.distributed.run's own main().
"""

import sys

from torch.distributed.elastic.multiprocessing import api

_from_str = api.Std.from_str


def from_str(vm):
    parsed = _from_str(vm)
    if isinstance(parsed, dict):
        return {rank: api.Std.NONE if std is None else std for rank, std in parsed.items()}
    return api.Std.NONE if parsed is None else parsed


api.Std.from_str = from_str

from torch.distributed.run import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
