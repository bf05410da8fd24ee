"""Dataset loaders: the real files first (mirror, cache, download), stand-ins by name only.

Search path: ``$LIB_DATA_DIR`` (read-only mirror), then ``$LIB_CACHE_DIR`` or the
project's ``data/`` cache, then the canonical download (verified, atomic).
"""

from ._cache import ChecksumError, DatasetNotAvailableError
from .availability import check_available
from .hand_poses import load_hand_poses, read_hand_poses_file
from .household_power import load_household_power, parse_household_power_text
from .mhealth import load_mhealth, read_mhealth_csv, read_mhealth_log
from .mice_sleep import amplitude_columns, load_mice_sleep, read_mice_sleep_file, state_codes
from .series import SampleSet, load_ucr, read_long_csv, read_ts

__all__ = [
    "ChecksumError",
    "DatasetNotAvailableError",
    "SampleSet",
    "amplitude_columns",
    "check_available",
    "load_hand_poses",
    "load_household_power",
    "load_mhealth",
    "load_mice_sleep",
    "load_ucr",
    "parse_household_power_text",
    "read_hand_poses_file",
    "read_long_csv",
    "read_mhealth_csv",
    "read_mhealth_log",
    "read_mice_sleep_file",
    "read_ts",
    "state_codes",
]

try:  # written separately; exported when present
    from .heartbeat import load_heartbeat, read_heartbeat_file  # noqa: F401

    __all__ += ["load_heartbeat", "read_heartbeat_file"]
except ImportError:  # pragma: no cover
    pass
