"""SDV 2.0 single-table synthesizers (Gaussian copula, CTGAN, TVAE) on the raw feature table.

They model features and target jointly: the target is appended as a column, so sampled rows
come with labels that fit their features. SDV (and torch) is imported only when a model is
fitted, so creating and validating these synthesizers stays cheap.

SDV 2.0 works on dicts of tables (``fit({"table": df})``, ``sample(n)["table"]``) and its
``Metadata``. Features are renamed to neutral names inside SDV (``c0``, ``c1``, ...) so that
SDV's name-based guesses cannot misfire and the target column ``__target__`` cannot collide with
a feature; their sdtypes are set from the dtypes instead of being guessed.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from automl.errors import invalid_parameter
from automl.synth.base import Synthesizer, check_int_setting
from automl.synth.registry import register_synthesizer

_TABLE = "table"
_TARGET = "__target__"
_SDV_LOGGERS = (
    "sdv",
    "rdt",
    "copulas",
    "ctgan",
    "SingleTableSynthesizer",
    "MultiTableSynthesizer",
    "Metadata",
    "SingleTableMetadata",
    "MultiTableMetadata",
)
GAUSSIAN_COPULA_DISTRIBUTIONS = ("norm", "beta", "truncnorm", "gamma", "uniform", "gaussian_kde")
"""The ``default_distribution`` names SDV 2.0's GaussianCopulaSynthesizer accepts."""


@contextlib.contextmanager
def _quiet_and_seeded(seed: int) -> Iterator[None]:
    """Silence SDV's warnings and log files, and seed numpy's and torch's global CPU generators.

    Everything is restored on exit: the warning filters, the loggers' state and both global
    random states, so nothing outside this block is affected.
    """
    import torch

    loggers = [logging.getLogger(name) for name in _SDV_LOGGERS]
    disabled = [logger.disabled for logger in loggers]
    np_state = np.random.get_state()
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.disabled = True
        np.random.seed(seed)
        torch.random.default_generator.manual_seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            for logger, was_disabled in zip(loggers, disabled, strict=True):
                logger.disabled = was_disabled


def _sdtype(dtype: Any) -> str:
    """The SDV sdtype for a pandas dtype: numbers are numerical, everything else categorical."""
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numerical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "categorical"


def _to_sdv_column(column: pd.Series, sdtype: str) -> pd.Series:
    """A column SDV accepts: numpy dtypes, object for categories (CTGAN rejects 'category')."""
    if sdtype == "numerical" and isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.astype(np.float64)  # nullable Int64/Float64 -> float with NaN
    if sdtype in ("categorical", "boolean") and isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.astype(object).where(column.notna(), None)
    return column


def _restore_column(values: pd.Series, dtype: Any) -> pd.Series:
    """Cast a sampled column back to the input dtype (integers rounded, categories kept)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Series(pd.Categorical(values, dtype=dtype), index=values.index)
    if pd.api.types.is_integer_dtype(dtype):
        return np.round(values.astype(np.float64)).astype(dtype)
    try:
        return values.astype(dtype)
    except (TypeError, ValueError):
        return values


class _SDVSynthesizer(Synthesizer):
    """Shared fit/sample logic; subclasses only say how to build the SDV synthesizer."""

    space: ClassVar[str] = "raw"
    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")
    expensive: ClassVar[bool] = True

    @abstractmethod
    def _make_model(self, metadata: Any, n_rows: int) -> Any:
        """The unfitted SDV single-table synthesizer for ``metadata`` (a fold of ``n_rows``)."""

    def _fit(self, X: pd.DataFrame, y: np.ndarray, *, task: str, seed: int) -> None:
        from sdv.metadata import Metadata

        self._columns = X.columns
        self._dtypes = list(X.dtypes)
        sdtypes = [_sdtype(dtype) for dtype in self._dtypes]
        internal = [f"c{i}" for i in range(X.shape[1])]
        frame = pd.DataFrame(
            {name: _to_sdv_column(X.iloc[:, i], sdtypes[i]) for i, name in enumerate(internal)}
        )
        frame[_TARGET] = y
        sdtypes.append("categorical" if task == "classification" else "numerical")

        with _quiet_and_seeded(seed):
            metadata = Metadata.detect_from_dataframes({_TABLE: frame}, infer_sdtypes=False, infer_keys=None)
            for name, sdtype in zip(frame.columns, sdtypes, strict=True):
                metadata.update_column(name, table_name=_TABLE, sdtype=sdtype)
            self._model = self._make_model(metadata, n_rows=len(frame))
            self._model.fit({_TABLE: frame})

    def _sample(self, n: int, *, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        with _quiet_and_seeded(seed):
            # Start from the state right after fitting, then seed the model's own generators
            # (SDV otherwise reuses a fixed seed, or continues from the previous call).
            self._model.reset_sampling()
            self._model._set_random_state(seed)
            out = self._model.sample(n)[_TABLE].reset_index(drop=True)

        X = pd.DataFrame({i: _restore_column(out[f"c{i}"], dtype) for i, dtype in enumerate(self._dtypes)})
        X.columns = self._columns
        target = out[_TARGET]
        if self.task_ == "regression":
            return X, target.to_numpy(dtype=np.float64)
        codes = pd.to_numeric(target).to_numpy(dtype=np.int64)
        if not np.isin(codes, self.classes_).all():  # SDV only emits seen categories
            raise RuntimeError(f"{self.name} sampled class codes that were not in the training rows.")
        return X, codes


def _default_batch_size(n_rows: int) -> int:
    """min(500, rows rounded down to a multiple of 10), at least 10 (CTGAN's pac)."""
    return max(10, min(500, n_rows // 10 * 10))


@register_synthesizer("gaussian_copula")
class GaussianCopulaSynthesizer(_SDVSynthesizer):
    """SDV's Gaussian copula: per-column marginals joined by a Gaussian correlation structure.

    Fast (a fraction of a second on small data) and clips samples to the fitted min/max.
    Setting ``default_distribution``: the marginal for numerical columns, one of
    ``GAUSSIAN_COPULA_DISTRIBUTIONS`` (default ``"norm"``).
    """

    def __init__(self, default_distribution: str = "norm") -> None:
        if default_distribution not in GAUSSIAN_COPULA_DISTRIBUTIONS:
            expected = "one of " + ", ".join(repr(d) for d in GAUSSIAN_COPULA_DISTRIBUTIONS)
            raise invalid_parameter(
                "default_distribution", "synthesizer 'gaussian_copula'", expected, default_distribution
            )
        self.default_distribution = default_distribution

    def _make_model(self, metadata: Any, n_rows: int) -> Any:
        from sdv.single_table import GaussianCopulaSynthesizer as SDVGaussianCopula

        return SDVGaussianCopula(metadata, default_distribution=self.default_distribution)


class _NeuralSynthesizer(_SDVSynthesizer):
    """Settings shared by CTGAN and TVAE: ``epochs`` and ``batch_size`` (None: from the rows).

    They run on the CPU (``enable_gpu=False``): small folds gain nothing from a GPU and CPU
    training keeps results reproducible. Threads are left to the caller.
    """

    batch_multiple: ClassVar[int] = 1

    def __init__(self, epochs: int = 100, batch_size: int | None = None) -> None:
        owner = f"synthesizer {self.name!r}"
        self.epochs = check_int_setting(epochs, "epochs", owner, minimum=1)
        if batch_size is not None:
            batch_size = check_int_setting(batch_size, "batch_size", owner, minimum=1)
            if batch_size % self.batch_multiple:
                expected = f"a positive multiple of {self.batch_multiple} (or None for automatic)"
                raise invalid_parameter("batch_size", owner, expected, batch_size)
        self.batch_size = batch_size

    def _batch_size_for(self, n_rows: int) -> int:
        return self.batch_size if self.batch_size is not None else _default_batch_size(n_rows)


@register_synthesizer("ctgan")
class CTGANSynthesizer(_NeuralSynthesizer):
    """SDV's CTGAN, a conditional GAN for tables; the slowest and the most flexible.

    CTGAN groups ``pac = 10`` rows per discriminator input, so ``batch_size`` must be a
    multiple of 10 (which also makes it even, as CTGAN asserts).
    """

    batch_multiple: ClassVar[int] = 10

    def _make_model(self, metadata: Any, n_rows: int) -> Any:
        from sdv.single_table import CTGANSynthesizer as SDVCTGAN

        return SDVCTGAN(
            metadata, epochs=self.epochs, batch_size=self._batch_size_for(n_rows), enable_gpu=False
        )


@register_synthesizer("tvae")
class TVAESynthesizer(_NeuralSynthesizer):
    """SDV's TVAE, a variational autoencoder for tables; much faster to train than CTGAN."""

    def _make_model(self, metadata: Any, n_rows: int) -> Any:
        from sdv.single_table import TVAESynthesizer as SDVTVAE

        return SDVTVAE(
            metadata, epochs=self.epochs, batch_size=self._batch_size_for(n_rows), enable_gpu=False
        )
