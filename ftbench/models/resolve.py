"""Turn a weights reference into a local folder, without importing torch.

Hub references are pinned (``hub`` + 40-hex ``revision``). They resolve, in order, to:
a local mirror declared in ``[tool.ftbench.local_models]`` (offline boards, CI), or a
``huggingface_hub.snapshot_download`` of that exact commit restricted to safe file types
(which reads the local Hugging Face cache when ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ftbench.config import mirror_folder
from ftbench.errors import FtbenchError
from ftbench.files import file_sha256
from ftbench.spec import WeightsRef

# Never download pickled weights or code, whatever the repository holds.
SAFE_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.gguf", "*.md", "*.tiktoken"]
WEIGHT_SUFFIXES = (".safetensors", ".gguf")


@dataclass(frozen=True)
class ResolvedWeights:
    """A weights reference and the local folder holding its files."""

    ref: WeightsRef
    """What the submission asked for."""
    folder: Path
    """Where the files are."""
    origin: str
    """How they were found: ``submission``, ``local mirror <folder>`` or ``hub``."""

    def weight_files(self) -> list[Path]:
        """Weight files in the folder (top level), sorted; only the named one for a GGUF."""
        if self.ref.gguf_file is not None:
            return [self.folder / self.ref.gguf_file]
        return sorted(p for p in self.folder.iterdir() if p.suffix in WEIGHT_SUFFIXES)

    def fingerprint(self) -> list[dict]:
        """``[{file, sha256, bytes}]`` of every weight file, for provenance and content keys."""
        return [{"file": p.name, "sha256": file_sha256(p), "bytes": p.stat().st_size} for p in self.weight_files()]


def resolve(ref: WeightsRef, submission_folder: Path, local_models: dict[str, str]) -> ResolvedWeights:
    """Find the files of ``ref`` on disk, downloading the pinned revision only if needed."""
    if ref.path is not None:
        folder = (submission_folder / ref.path).resolve()
        if not folder.is_relative_to(submission_folder.resolve()):
            raise FtbenchError(f"{ref.path}: leaves the submission folder")
        return ResolvedWeights(ref, folder, "submission")
    key = f"{ref.hub}@{ref.revision}"
    if key in local_models:
        folder = mirror_folder(local_models[key])
        return ResolvedWeights(ref, folder, f"local mirror {local_models[key]}")
    return ResolvedWeights(ref, _snapshot(ref), "hub")


def _snapshot(ref: WeightsRef) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise FtbenchError("huggingface_hub is needed to fetch Hub models") from exc
    try:
        # a GGUF repository holds many quantisations: fetch only the one named
        patterns = [ref.gguf_file] if ref.gguf_file else SAFE_PATTERNS
        path = snapshot_download(repo_id=str(ref.hub), revision=ref.revision, allow_patterns=patterns)
    except Exception as exc:  # network, auth, missing revision: all end the same way for a user
        raise FtbenchError(
            f"could not get {ref.hub}@{ref.revision} from the Hugging Face Hub or its local cache "
            f"({type(exc).__name__}: {exc}). Offline, download it once elsewhere, or map it to a "
            "local folder in [tool.ftbench.local_models]"
        ) from None
    return Path(path)
