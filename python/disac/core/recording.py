# Copyright 2026 The gr-disac authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""SigMF recordings of a node's receive streams (issue 13, item 5): the files, the metadata, the time labels.

One recording per node, holding all its Mr receive channels (decided): ``DIR/node-<number>.sigmf-data``
(cf32_le, the channels interleaved sample by sample: SigMF's ``core:num_channels`` = Mr) and
``DIR/node-<number>.sigmf-meta`` (JSON), <number> = node_id + 1 as in ``disac node --node-number``. Why one
multi-channel recording rather than one per channel: the Mr channels are one array sampled on one clock
(one USRP multi-channel stream has one rx_time, and an overflow drops the same samples on every channel),
so one file keeps them aligned by construction (a replay cannot pair channel 3 of one run with channel 4
of another) and one metadata file holds what they share. A single channel is ``read_samples()[:, r]``
with the ``sigmf`` package, or ``numpy.fromfile(data, np.complex64).reshape(-1, Mr)[:, r]``.

Time labels: every ``rx_time`` tag (gr-uhd: (uint64 full seconds, double fractional seconds)) starts a
capture segment at its sample: ``core:sample_start``, ``core:datetime`` (ISO 8601 UTC, 12 decimals),
``core:global_index`` (the sample's index in the radio's stream counting the samples lost before it,
from the time labels) and the exact pair under ``disac:rx_time`` = [full_s, frac_s] (an ISO string or one
float64 would lose the sub-µs part of a Unix time). Samples lost between two labels (an overflow) are
also an annotation there (``core:label`` "overflow", ``disac:samples_lost``).

Global metadata: ``core:sample_rate`` (the scenario's bandwidth), ``core:frequency`` in each capture (the
centre frequency; absent for the synthetic air), ``core:hw``/``core:recorder``, and under the ``disac``
extension: ``disac:node_id``, ``disac:radio`` ("synthetic" | "usrp"), ``disac:frequency_grid``,
``disac:tx_gain_db``/``disac:rx_gain_db``, ``disac:epoch_s`` ([full, frac] of frame 0), ``disac:scenario``
(the scenario as TOML **without its [impairments] table**: the receive side never learns the impairments
from the scenario, docs/air-model.md §0), ``disac:calibration`` (the calibration file's JSON object, or null) and —
only for a recording of the synthetic air, and only when the writer is given it — ``disac:ground_truth``
= {"impairments": the [impairments] table}: the truth of a test fixture, for researchers and truth checks,
under a key no receiver reads (RecordingReader has no accessor that mixes it into the scenario).

Writing is streaming: samples are appended to the data file as they come (``append``), flushed to the
OS every call; the metadata file is rewritten (atomically, temp file + rename) at the start, at every new
capture segment and at ``close``, so a run killed at any point leaves a valid recording of every sample
written. Pure Python (numpy, json, sigmf for validation and reading): no GNU Radio here.
"""

import datetime
import json
import math
import os
import pathlib
import warnings

import numpy as np

DATATYPE = "cf32_le"  # what the radio blocks deliver (complex64)
EXTENSION = {"name": "disac", "version": "1.0.0", "optional": True}
RECORDER = "gr-disac sigmf_record"
META_SUFFIX, DATA_SUFFIX = ".sigmf-meta", ".sigmf-data"
RADIOS = ("synthetic", "usrp")
GROUND_TRUTH_KEY = "disac:ground_truth"  # written for synthetic air only; never read by the receive side


class RecordingError(ValueError):
    """A recording that cannot be written or read; the message names the path or value and what is accepted."""


def recording_base(directory, node_id):
    """DIR/node-<node_id + 1> (no suffix): the recording of node node_id (0-based) in DIR."""
    return pathlib.Path(directory) / f"node-{int(node_id) + 1}"


def split_time(full_s, frac_s):
    """A time label as (int full seconds, float fraction in [0, 1)), the fraction's carries moved to the integer."""
    full, frac = int(full_s), float(frac_s)
    carry = math.floor(frac)
    return full + carry, frac - carry


def samples_between(start, end, sample_rate_hz):
    """Samples from time label ``start`` to ``end`` ((full, frac) pairs), rounded: integers and fractions
    kept apart so a Unix epoch costs no precision."""
    return int(round((end[0] - start[0]) * sample_rate_hz + (end[1] - start[1]) * sample_rate_hz))


def iso_datetime(full_s, frac_s):
    """ISO 8601 UTC with 12 decimals (SigMF core:datetime) of a (full, frac) time label."""
    whole = datetime.datetime.fromtimestamp(int(full_s), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{int(round(frac_s * 1e12)):012d}Z" if frac_s < 1 - 5e-13 else f"{whole}.999999999999Z"


def _check_directory(directory):
    path = pathlib.Path(directory)
    if str(directory) == "":
        raise RecordingError("recording directory '': give a directory (created if missing), e.g. --record captures/run1")
    if path.exists() and not path.is_dir():
        raise RecordingError(f"recording directory {str(directory)!r} is a file: give a directory (created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(f"recording directory {str(directory)!r} cannot be created ({exc.strerror}): "
                             "give a writable directory") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RecordingError(f"recording directory {str(directory)!r} is not writable: give a writable directory")
    return path


class RecordingWriter:
    """Streams one node's Mr receive channels into DIR/node-<n>.sigmf-{data,meta} (module docstring).

    Parameters
      directory, node_id        where (created if missing; an existing recording there is an error: never
                                overwritten) and whose (0-based)
      num_channels, sample_rate_hz
      scenario_toml             the scenario as TOML, already without its [impairments] table
      radio                     "synthetic" | "usrp"
      center_freq_hz, tx_gain_db, rx_gain_db   None where not known (synthetic air)
      frequency_grid, epoch     "low-if" | "centred"; frame 0's time label (full, frac) or None
      calibration               the calibration file's JSON object (dict) or None
      ground_truth              synthetic only: {"impairments": table} or None (module docstring)
      description, hardware     free text for core:description / core:hw
    """

    def __init__(self, directory, node_id, num_channels, sample_rate_hz, scenario_toml, radio="synthetic",
                 center_freq_hz=None, tx_gain_db=None, rx_gain_db=None, frequency_grid="low-if", epoch=None,
                 calibration=None, ground_truth=None, description="", hardware=""):
        if radio not in RADIOS:
            raise RecordingError(f"radio = {radio!r}: accepted: {', '.join(RADIOS)}")
        if ground_truth is not None and radio != "synthetic":
            raise RecordingError("ground_truth: only a recording of the synthetic air has a ground truth "
                                 f"(radio = {radio!r})")
        if int(num_channels) < 1:
            raise RecordingError(f"num_channels = {num_channels!r}: accepted: ≥ 1")
        if not (sample_rate_hz > 0 and math.isfinite(sample_rate_hz)):
            raise RecordingError(f"sample_rate_hz = {sample_rate_hz!r}: accepted: a finite rate > 0")
        base = recording_base(_check_directory(directory), node_id)
        self.meta_path, self.data_path = base.with_suffix(META_SUFFIX), base.with_suffix(DATA_SUFFIX)
        for path in (self.meta_path, self.data_path):
            if path.exists():
                raise RecordingError(f"{str(path)!r} exists: a recording is never overwritten; give another "
                                     "directory or remove it")
        self.num_channels, self.sample_rate_hz = int(num_channels), float(sample_rate_hz)
        self.center_freq_hz = None if center_freq_hz is None else float(center_freq_hz)
        self.samples_written = 0
        self.captures, self.annotations = [], []
        self._first_label = None  # (full, frac) of the first rx_time
        self._capture_global = []  # global index of each capture's first sample
        extra = {"disac:node_id": int(node_id), "disac:radio": radio, "disac:frequency_grid": frequency_grid,
                 "disac:tx_gain_db": None if tx_gain_db is None else float(tx_gain_db),
                 "disac:rx_gain_db": None if rx_gain_db is None else float(rx_gain_db),
                 "disac:epoch_s": None if epoch is None else list(split_time(*epoch)),
                 "disac:scenario": str(scenario_toml), "disac:calibration": calibration}
        if ground_truth is not None:
            extra[GROUND_TRUTH_KEY] = ground_truth
        from sigmf import __specification__
        self.global_info = {"core:datatype": DATATYPE, "core:sample_rate": self.sample_rate_hz,
                            "core:num_channels": self.num_channels, "core:version": __specification__,
                            "core:recorder": RECORDER, "core:extensions": [dict(EXTENSION)],
                            "core:description": description or f"gr-disac node {int(node_id) + 1} receive channels",
                            **extra}
        if hardware:
            self.global_info["core:hw"] = hardware
        try:
            self._data = open(self.data_path, "xb")
        except OSError as exc:
            raise RecordingError(f"{str(self.data_path)!r} cannot be created ({exc.strerror})") from None
        self.closed = False
        self.write_metadata()

    # ---- samples and labels --------------------------------------------------------------------

    def append(self, channels):
        """Append samples: an (Mr, n) array (or a list of Mr 1-D arrays), written interleaved and flushed."""
        block = np.asarray(channels, dtype=np.complex64)
        if block.ndim != 2 or block.shape[0] != self.num_channels:
            raise RecordingError(f"samples of shape {block.shape}: expected ({self.num_channels}, n)")
        if block.shape[1] == 0:
            return
        if not self.captures:  # samples with no time label: one capture at 0 without a time
            self._add_capture(0, None)
        self._data.write(np.ascontiguousarray(block.T).tobytes())
        self._data.flush()
        self.samples_written += block.shape[1]

    def label(self, sample_index, full_s, frac_s):
        """An rx_time label at sample ``sample_index`` (index in this recording; ≥ the samples written so
        far and ≥ the last label): a new capture segment, and an overflow annotation where the label says
        samples were lost since the previous one."""
        index = int(sample_index)
        last = self.captures[-1]["core:sample_start"] if self.captures else -1
        if index < self.samples_written or index < last:
            raise RecordingError(f"rx_time label at sample {index}: labels must come in order and before their "
                                 f"samples (written {self.samples_written}, last label at {last})")
        self._add_capture(index, split_time(full_s, frac_s))
        self.write_metadata()

    def _add_capture(self, index, label):
        capture = {"core:sample_start": index}
        if self.center_freq_hz is not None:
            capture["core:frequency"] = self.center_freq_hz
        if label is None:
            self._capture_global.append(index)
            capture["core:global_index"] = index
        else:
            if self._first_label is None:
                self._first_label = (label, index)
            first, first_index = self._first_label
            global_index = first_index + samples_between(first, label, self.sample_rate_hz)
            capture.update({"core:global_index": global_index, "core:datetime": iso_datetime(*label),
                            "disac:rx_time": [label[0], label[1]]})
            if self.captures and self.captures[-1]["core:sample_start"] == index:  # a label on the implicit capture
                self.captures.pop()
                self._capture_global.pop()
            elif self.captures:
                previous_start = self.captures[-1]["core:sample_start"]
                expected = self._capture_global[-1] + (index - previous_start)
                lost = global_index - expected
                if lost != 0:
                    self.annotations.append({
                        "core:sample_start": index, "core:sample_count": 0, "core:label": "overflow",
                        "core:comment": f"{lost} samples lost before this sample (rx_time re-tag)"
                        if lost > 0 else f"time label {-lost} samples earlier than the samples imply",
                        "disac:samples_lost": int(lost)})
            self._capture_global.append(global_index)
        self.captures.append(capture)

    # ---- metadata ------------------------------------------------------------------------------

    def metadata(self):
        """The SigMF metadata (dict) of what has been written."""
        return {"global": dict(self.global_info), "captures": [dict(c) for c in self.captures],
                "annotations": [dict(a) for a in self.annotations]}

    def write_metadata(self):
        """Validate (sigmf's schema) and write the metadata file atomically."""
        metadata = self.metadata()
        _validate(metadata)
        temporary = self.meta_path.with_name(self.meta_path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(metadata, handle, indent=2, default=_json_value)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.meta_path)

    def close(self):
        """Flush and close the data file (fsync) and write the final metadata; idempotent."""
        if self.closed:
            return
        self.closed = True
        self._data.flush()
        os.fsync(self._data.fileno())
        self._data.close()
        self.write_metadata()


def _json_value(value):
    """numpy values in the metadata (a scenario's table may hold arrays) as JSON values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} in the recording metadata is not JSON")


def _validate(metadata):
    from sigmf import schema, validate
    try:
        validate.validate(metadata, schema.get_schema())
    except Exception as exc:  # sigmf raises jsonschema's ValidationError
        raise RecordingError(f"SigMF metadata does not validate: {exc}") from None


class RecordingReader:
    """A node recording read back (DIR + node_id, or the path of a .sigmf-meta / .sigmf-data / base name).

    Attributes: meta_path, data_path, metadata (dict), num_channels, sample_rate_hz, num_samples (whole
    samples; partial_bytes: the bytes of a trailing partial sample, left out),
    labels (list of (sample_start, (full, frac)) for the captures that carry a time), scenario_toml (or
    None), calibration (dict or None), epoch ((full, frac) or None), radio, frequency_grid,
    center_freq_hz, node_id. read(start, count) → (Mr, count) complex64.
    """

    def __init__(self, path, node_id=None):
        from sigmf import sigmffile
        base = pathlib.Path(path)
        if base.suffix in (META_SUFFIX, DATA_SUFFIX):
            base = base.with_suffix("")
        elif node_id is not None:  # a directory (written by RecordingWriter)
            base = recording_base(base, node_id)
        self.meta_path, self.data_path = base.with_suffix(META_SUFFIX), base.with_suffix(DATA_SUFFIX)
        if not self.meta_path.is_file():
            where = f" (node {int(node_id) + 1} of directory {str(path)!r})" if node_id is not None else ""
            raise RecordingError(f"no SigMF recording {str(self.meta_path)!r}{where}: give a directory written by "
                                 "`disac node --record DIR` (DIR/node-<number>.sigmf-meta)")
        try:
            self.metadata = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecordingError(f"{str(self.meta_path)!r}: not a readable SigMF metadata file ({exc})") from None
        _validate(self.metadata)
        info = self.metadata["global"]
        if not self.data_path.is_file():
            raise RecordingError(f"{str(self.data_path)!r} missing: a recording needs its .sigmf-data beside the meta")
        self.num_channels = int(info.get("core:num_channels", 1))
        self.sample_rate_hz = info.get("core:sample_rate")
        if self.sample_rate_hz is None:
            raise RecordingError(f"{str(self.meta_path)!r} has no core:sample_rate: a replay needs the rate")
        try:
            sample_bytes = sigmffile.dtype_info(info["core:datatype"])["sample_size"] * self.num_channels
        except Exception:  # sigmf raises on an unknown datatype string
            raise RecordingError(f"{str(self.meta_path)!r}: core:datatype {info['core:datatype']!r} is not a SigMF "
                                 "datatype (e.g. cf32_le, ci16_le)") from None
        size = self.data_path.stat().st_size
        # A trailing partial sample (a run killed in the middle of a write, or a recording still being
        # written) is not a sample: it is left out and its size kept in partial_bytes.
        self.partial_bytes = size % sample_bytes
        self.num_samples = size // sample_bytes
        # (sigmf cannot map an empty data file: a recording with no samples yet reads as empty)
        self._file = None
        if self.num_samples:
            with warnings.catch_warnings():  # sigmf warns about the partial sample said above
                warnings.simplefilter("ignore", UserWarning)
                self._file = sigmffile.SigMFFile(metadata=self.metadata, data_file=str(self.data_path),
                                                 skip_checksum=True)
        self.labels = []
        for capture in self.metadata.get("captures", []):
            label = _capture_label(capture)
            if label is not None:
                self.labels.append((int(capture["core:sample_start"]), label))
        self.scenario_toml = info.get("disac:scenario")
        self.calibration = info.get("disac:calibration")
        epoch = info.get("disac:epoch_s")
        self.epoch = None if epoch is None else split_time(*epoch)
        self.radio = info.get("disac:radio")
        self.frequency_grid = info.get("disac:frequency_grid")
        self.node_id = info.get("disac:node_id")
        captures = self.metadata.get("captures", [])
        self.center_freq_hz = captures[0].get("core:frequency") if captures else None

    def calibration_object(self):
        """The embedded calibration as a core.calibration.Calibration (validated), or None."""
        if self.calibration is None:
            return None
        from . import calibration
        return calibration.Calibration.from_json(json.dumps(self.calibration))

    def read(self, start, count):
        """(Mr, count) complex64 from sample ``start`` (count clipped at the end of the data)."""
        count = min(int(count), self.num_samples - int(start))
        if count <= 0:
            return np.zeros((self.num_channels, 0), np.complex64)
        samples = self._file.read_samples(int(start), count)
        return np.asarray(samples, np.complex64).reshape(count, self.num_channels).T


def _capture_label(capture):
    """(full, frac) of a capture: disac:rx_time (exact) or else core:datetime (any SigMF recording)."""
    if "disac:rx_time" in capture:
        return split_time(*capture["disac:rx_time"])
    text = capture.get("core:datetime")
    if text is None:
        return None
    whole, _, rest = text.rstrip("Z").partition(".")
    when = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp()), float("0." + rest) if rest else 0.0
