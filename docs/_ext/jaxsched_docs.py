"""Pages generated at build time into ``docs/generated/``: one API page per public name, the
gallery (a picture of every schedule in ``jaxsched.tools.catalog``, drawn from the pure
schedules with matplotlib's Agg backend) and copies of the notebooks with their stored outputs.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import pathlib
import shutil
from typing import Any

DOCS = pathlib.Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GEN = DOCS / "generated"

# The modules whose ``__all__`` the API reference covers, top level first: a name re-exported
# at the top level is described there and its origin's page points to it.
API_MODULES = ("jaxsched", "jaxsched.pytorch", "jaxsched.deepspeed", "jaxsched.transformers",
               "jaxsched.timm", "jaxsched.keras", "jaxsched.megatron", "jaxsched.presets",
               "jaxsched.loop")
MODULE_TITLES = {
    "jaxsched": "Top level (`jaxsched`)",
    "jaxsched.pytorch": "PyTorch (`jaxsched.pytorch`)",
    "jaxsched.deepspeed": "DeepSpeed (`jaxsched.deepspeed`)",
    "jaxsched.transformers": "Hugging Face (`jaxsched.transformers`)",
    "jaxsched.timm": "timm (`jaxsched.timm`)",
    "jaxsched.keras": "Keras 3 (`jaxsched.keras`)",
    "jaxsched.megatron": "Megatron-core (`jaxsched.megatron`)",
    "jaxsched.presets": "Presets (`jaxsched.presets`)",
    "jaxsched.loop": "Training-loop companions (`jaxsched.loop`)",
}
GALLERY_STEPS = {"deepseek-llm": 10_000, "deepseek-v3": 14_800, "inverse-sqrt": 20_000}


def _write(path: pathlib.Path, text: str) -> None:
    """Write only when the text changes, so Sphinx rereads only what changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def public_names() -> list[tuple[str, str]]:
    """Every ``(module, name)`` the API reference must have a page for."""
    return [(m, n) for m in API_MODULES for n in importlib.import_module(m).__all__]


def api_page(module: str, name: str) -> str:
    """The docname (under ``generated/api``) of ``module.name``'s page."""
    return f"{module}.{name}"


def _directive(obj: Any) -> str:
    if inspect.isclass(obj):
        return "autoclass"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "autofunction"
    return "autodata"


def generate_api() -> None:
    out = GEN / "api"
    canonical: dict[int, str] = {}
    index = ["# API reference", "",
             "One page per public name of `jaxsched` and of each origin's subpackage, generated "
             "from the docstrings (Google style: summary, formula, Args, Returns, Raises, "
             "Example, the original's name and version).", ""]
    pages = []
    for module in API_MODULES:
        mod = importlib.import_module(module)
        index += [f"## {MODULE_TITLES[module]}", ""]
        first = (inspect.getdoc(mod) or "").split("\n\n")[0].replace("\n", " ")
        if first:
            index += [first, ""]
        index += ["| name | summary |", "| --- | --- |"]
        for name in mod.__all__:
            obj = getattr(mod, name)
            full = f"{module}.{name}"
            page = api_page(module, name)
            pages.append(page)
            summary = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ")
            summary = summary.replace("|", "\\|")
            index.append(f"| [`{full}`]({page}.md) | {summary} |")
            lines = [f"# {full}", ""]
            kind = _directive(obj)
            options = []
            if kind == "autoclass":
                options.append("   :members:")
            key = id(obj)
            if key in canonical and kind != "autodata":
                options.append("   :no-index:")
                lines += [f"The same object as [`{canonical[key]}`]"
                          f"({api_page(*canonical[key].rsplit('.', 1))}.md).", ""]
            else:
                canonical.setdefault(key, full)
            lines += ["```{eval-rst}", f".. {kind}:: {full}", *options, "```", ""]
            _write(out / f"{page}.md", "\n".join(lines))
        index.append("")
    index += ["```{toctree}", ":hidden:", "", *pages, "```", ""]
    _write(out / "index.md", "\n".join(index))
    for stale in out.glob("*.md"):
        if stale.stem != "index" and stale.stem not in pages:
            stale.unlink()


def _special_curves(name: str, steps: int) -> dict[str, Any]:
    """Schedules that take other schedulers or a metric: a representative run of each."""
    import numpy as np

    import jaxsched
    from jaxsched.tools.cli import evaluate

    if name == "SequentialLR":
        s = jaxsched.sequential_lr([jaxsched.linear_lr(0.01, 1.0, total_iters=100, lr=0.1),
                                    jaxsched.cosine_annealing_lr(T_max=900, eta_min=1e-3,
                                                                 lr=0.1)], milestones=[100])
        return {"curves": evaluate(s, steps), "note": "linear_lr then cosine_annealing_lr"}
    if name == "ChainedScheduler":
        s = jaxsched.chained_scheduler([jaxsched.constant_lr(0.5, total_iters=200, lr=0.1),
                                        jaxsched.exponential_lr(0.998, lr=0.1)])
        return {"curves": evaluate(s, steps), "note": "constant_lr x exponential_lr"}
    if name not in ("ReduceLROnPlateau", "hf:reduce_lr_on_plateau", "timm:plateau",
                    "hf:greedy"):
        raise ValueError(f"the gallery has no drawing for {name!r} (a catalog entry without "
                         f"key=value settings): add one to docs/_ext/jaxsched_docs.py")
    # Metric-driven: a loss that falls, then plateaus with noise; one step per 10 updates.
    rng = np.random.default_rng(0)
    epochs = steps // 10
    loss = np.maximum(np.exp(-np.arange(epochs) / 15.0), 0.05) + 0.01 * rng.random(epochs)
    if name == "timm:plateau":
        sched = jaxsched.timm.PlateauLRScheduler([{"lr": 0.1}], decay_rate=0.5, patience_t=5,
                                                 mode="min", lr_min=1e-4)
        lrs = []
        for epoch, value in enumerate(loss):
            lrs.append(sched.get_last_lr()[0])
            sched.step(epoch + 1, value)
    elif name == "hf:greedy":
        sched = jaxsched.transformers.GreedyLR([{"lr": 0.1}], factor=0.5, patience=5,
                                               min_lr=1e-4, max_lr=1.0)
        lrs = []
        for value in loss:
            lrs.append(sched.get_last_lr()[0])
            sched.step(value)
    else:
        sched = jaxsched.ReduceLROnPlateau(0.1, factor=0.5, patience=5, min_lr=1e-4)
        lrs = []
        for value in loss:
            lrs.append(sched.get_last_lr()[0])
            sched.step(value)
    return {"curves": {"lr": np.repeat(np.asarray(lrs, dtype=np.float64), 10)},
            "note": "stepped each 10 updates on a loss that plateaus"}


def _gallery_key() -> str:
    """A hash of the package's sources and this file: the pictures are redrawn when it moves."""
    digest = hashlib.sha256(pathlib.Path(__file__).read_bytes())
    for path in sorted((ROOT / "jaxsched").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def generate_gallery() -> None:
    from jaxsched.tools import catalog
    from jaxsched.tools.cli import evaluate, parse_value

    out = GEN / "gallery"
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / ".key"
    key = _gallery_key()
    redraw = not stamp.exists() or stamp.read_text() != key
    if redraw:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    text = ["# Gallery", "",
            "Every schedule of `jaxsched list`, drawn at build time from its pure schedule "
            "(float64) with the example settings of `jaxsched.tools.catalog` (`lr=0.1` unless "
            "set). Momentum / beta1 is drawn dashed on the right axis where a schedule cycles "
            "it. The same picture from the command line: `jaxsched plot NAME key=value ...`.",
            ""]
    origin = None
    for entry in catalog.ENTRIES.values():
        if entry.origin != origin:
            origin = entry.origin
            text += [f"## {origin}", ""]
        slug = entry.name.replace(":", "-")
        steps = GALLERY_STEPS.get(entry.name, 1000)
        note = entry.example or "defaults"
        if entry.cli:
            settings = {k: parse_value(v) for k, _, v in
                        (t.partition("=") for t in entry.example.split())}
            curves = None
            if redraw:
                curves = evaluate(catalog.build(entry.name, settings), steps)
        else:
            special = _special_curves(entry.name, steps) if redraw else None
            curves = special["curves"] if special else None
            note = _SPECIAL_NOTES.get(entry.name, "")
        if redraw:
            fig, ax = plt.subplots(figsize=(5.0, 2.4), dpi=80)
            ax.plot(curves["lr"], color="C0", lw=1.5)
            ax.set_xlabel("step")
            ax.set_ylabel("lr")
            ax.set_title(entry.name, fontsize=10)
            if "momentum" in curves:
                ax2 = ax.twinx()
                ax2.plot(curves["momentum"], color="C1", lw=1.0, ls="--")
                ax2.set_ylabel("momentum")
            fig.tight_layout()
            fig.savefig(out / f"{slug}.png")
            plt.close(fig)
        text += [f"### `{entry.name}`", "", f"`{note}`" if note else "", "",
                 f"![{entry.name}]({slug}.png)", ""]
    _write(out / "index.md", "\n".join(text))
    if redraw:
        stamp.write_text(key)


_SPECIAL_NOTES = {
    "SequentialLR": "linear_lr then cosine_annealing_lr (Python API only)",
    "ChainedScheduler": "constant_lr x exponential_lr (Python API only)",
    "ReduceLROnPlateau": "stepped each 10 updates on a loss that plateaus (Python API only)",
    "hf:reduce_lr_on_plateau": "torch's ReduceLROnPlateau, stepped each 10 updates on a loss "
                               "that plateaus (Python API only)",
    "timm:plateau": "PlateauLRScheduler stepped each 10 updates on a loss that plateaus "
                    "(Python API only)",
    "hf:greedy": "GreedyLR stepped each 10 updates on a loss that falls, then plateaus: the lr "
                 "grows while the loss improves and is cut when it stalls (Python API only)",
}


def copy_notebooks() -> None:
    out = GEN / "notebooks"
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        names.append(nb.name)
        target = out / nb.name
        if not target.exists() or target.read_bytes() != nb.read_bytes():
            shutil.copyfile(nb, target)
    for stale in out.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()


def generate(app: Any = None) -> None:
    generate_api()
    generate_gallery()
    copy_notebooks()


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True,
            "version": json.dumps(1)}
