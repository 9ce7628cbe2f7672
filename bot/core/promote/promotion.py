"""What a promotion writes: PR title and body, its hidden marker, commit message, file edits.

All pure. The PR body carries a hidden HTML marker with the stage and freight, so a run
that lost its ledger write can still recognise (and adopt) the PR an earlier run opened,
instead of opening a second one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.decide.outcomes import Gate
from bot.core.discover.artifacts import Chart, Commit, Image
from bot.core.discover.freight import Freight, make_freight
from bot.core.errors import ManifestError
from bot.core.ledger import PromotionKind
from bot.core.model import GitRepoUpdate, Stage
from bot.core.promote import manifests, templates
from bot.core.promote.steps.runner import run_program

BRANCH_PREFIX = "shunter/"
_MARKER_RE = re.compile(r"<!-- shunter:promotion (\{.*?\}) -->")


def branch_for(stage: str) -> str:
    """The one promotion branch of ``stage``: ``shunter/<stage>``."""
    return f"{BRANCH_PREFIX}{stage}"


@dataclass(frozen=True)
class Marker:
    """What a promotion PR carries for later runs: the stage, the freight and who asked.

    ``artifacts`` is the freight itself (warehouse and artifacts; its alias and discovery
    time are not carried): a run whose ledger never heard of the freight (the run that
    discovered it died after merging) can still record the merge. ``parse_marker`` keeps
    it only when its artifacts hash to ``freight``.
    """

    stage: str
    freight: str
    kind: PromotionKind
    by: str
    reason: str = ""
    artifacts: Freight | None = None

    def render(self) -> str:
        """The hidden HTML comment (JSON inside, so no value can break out of it)."""
        data: dict[str, object] = {
            "stage": self.stage,
            "freight": self.freight,
            "kind": self.kind,
            "by": self.by,
        }
        if self.reason:
            data["reason"] = self.reason
        f = self.artifacts
        if f is not None:
            data["warehouse"] = f.warehouse
            data["images"] = [[i.repo_url, i.tag, i.digest] for i in f.images]
            data["charts"] = [[c.repo_url, c.name, c.version] for c in f.charts]
            data["commits"] = [[c.repo_url, c.id, c.branch, c.tag] for c in f.commits]
        text = json.dumps(data, sort_keys=True).replace("--", "\\u002d\\u002d")
        return f"<!-- shunter:promotion {text} -->"


def _rows(data: dict[str, object], key: str, width: int) -> list[list[str]] | None:
    """``data[key]`` as rows of ``width`` strings (absent: none), or ``None`` if malformed."""
    value = data.get(key) or []
    if not isinstance(value, list):
        return None
    rows = []
    for row in value:
        if not isinstance(row, list) or len(row) != width:
            return None
        if not all(isinstance(x, str) for x in row):
            return None
        rows.append([str(x) for x in row])
    return rows


def _artifacts(data: dict[str, object], freight: str) -> Freight | None:
    """The freight a marker's artifacts make, when they make exactly ``freight``."""
    warehouse = data.get("warehouse")
    images, charts = _rows(data, "images", 3), _rows(data, "charts", 3)
    commits = _rows(data, "commits", 4)
    if not isinstance(warehouse, str) or images is None or charts is None or commits is None:
        return None
    f = make_freight(
        warehouse,
        images=[Image(r[0], r[1], r[2]) for r in images],
        charts=[Chart(r[0], r[1], r[2]) for r in charts],
        commits=[Commit(r[0], r[1], r[2], r[3]) for r in commits],
    )
    return f if f.name == freight else None


_FREIGHT_ID_RE = re.compile(r"\b[0-9a-f]{40}\b")


def freight_ids_in(text: str) -> tuple[str, ...]:
    """Every token of ``text`` shaped like a freight ID, in order, each once.

    A merge commit's message names the freight the merging run promoted (``Freight:``
    in the default message, ``{{ FreightID }}`` in a template): a nomination only, never
    proof. The caller counts one only when the merged change is exactly its edit.
    """
    return tuple(dict.fromkeys(_FREIGHT_ID_RE.findall(text)))


def parse_marker(body: str | None) -> Marker | None:
    """The marker in a PR body, or ``None`` when there is none or it is malformed."""
    if not body:
        return None
    m = _MARKER_RE.search(body)
    if not m:
        return None
    try:
        data = json.loads(m.group(1))
        kind = data["kind"]
        if kind not in ("auto", "manual", "emergency", "rollback"):
            return None
        return Marker(
            stage=str(data["stage"]),
            freight=str(data["freight"]),
            kind=kind,
            by=str(data["by"]),
            reason=str(data.get("reason", "")),
            artifacts=_artifacts(data, str(data["freight"])),
        )
    except (ValueError, KeyError, TypeError):
        return None


def title(stage: str, freight: Freight) -> str:
    """``Promote flask-app 1.8.4 to staging``."""
    return f"Promote {freight.warehouse} {freight.summary()} to {stage}"


def pr_title_and_labels(stage: Stage, freight: Freight) -> tuple[str, tuple[str, ...]]:
    """The promotion PR's title and labels: a ``git-open-pr`` step's ``title`` and
    ``labels`` run with the freight, else :func:`title` and none.

    The title is for people only: Shunter knows its PRs by the body's marker and checks
    their diff, never the title. A title that cannot be computed falls back to Shunter's:
    the edit, which runs the same step, then fails loudly with the reason.
    """
    for update in stage.git_repo_updates:
        if update.program is None:
            continue
        try:
            ran = run_program(update.program, stage.name, freight, None)
        except ValueError:
            break
        return ran.title or title(stage.name, freight), ran.labels
    return title(stage.name, freight), ()


def _md(text: str) -> str:
    """Neutralise Markdown/HTML in a value placed in the PR body (tags can be hostile)."""
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("`", "'")


def body(
    marker: Marker,
    freight: Freight,
    current: Freight | None,
    gates: Sequence[Gate],
) -> str:
    """The PR body: what moves where, and a checklist of the gates (kept current)."""
    lines = [
        marker.render(),
        f"Shunter promotes freight **{_md(freight.alias)}** to stage **{_md(marker.stage)}**.",
        "",
        "| | |",
        "|---|---|",
        f"| Freight | `{freight.name[:12]}` ({_md(freight.alias)}) from warehouse "
        f"`{_md(freight.warehouse)}` |",
    ]
    for i in freight.images:
        lines.append(f"| Image | `{_md(i.repo_url)}:{_md(i.tag)}` |")
        lines.append(f"| Digest | `{_md(i.digest)}` |")
    for c in freight.charts:
        lines.append(f"| Chart | `{_md(c.repo_url)}` {_md(c.name)} {_md(c.version)} |")
    for cm in freight.commits:
        lines.append(f"| Commit | `{_md(cm.repo_url)}` {_md(cm.tag or cm.id[:12])} |")
    lines.append(f"| Replaces | {_md(current.summary()) if current else 'nothing yet'} |")
    lines.append(f"| Requested by | {_md(marker.by)} ({marker.kind}) |")
    if marker.reason:
        lines.append(f"| Reason | {_md(marker.reason)} |")
    if gates:
        lines += ["", "### Gates", ""]
        lines += [f"- [{' ' if g.blocks else 'x'}] {_md(g.render())}" for g in gates]
    lines += [
        "",
        "<sub>Opened by Shunter. Merging this PR by hand is recorded as a promotion;"
        " closing it rejects this freight for this stage.</sub>",
    ]
    return "\n".join(lines) + "\n"


def template_context(
    stage: str, freight: Freight, previous: Freight | None, promoted_by: str
) -> dict[str, str]:
    """The variables a ``commitMessageTemplate`` may use."""
    image = freight.image()
    prev_image = previous.image(image.repo_url) if previous and image else None
    if image is not None:
        artifact_type, version = "image", image.tag
        prev = prev_image.tag if prev_image else (previous.summary() if previous else "none")
    elif freight.charts:
        artifact_type, version = "chart", freight.charts[0].version
        prev = previous.charts[0].version if previous and previous.charts else "none"
    else:
        artifact_type = "commit"
        version = freight.commits[0].tag or freight.commits[0].id[:12] if freight.commits else ""
        prev = previous.summary() if previous else "none"
    return {
        "ArtifactType": artifact_type,
        "ArtifactVersion": version,
        "PreviousVersion": prev,
        "Stage": stage,
        "PromotedBy": promoted_by,
        "FreightID": freight.name,
        "FreightAlias": freight.alias,
        "Warehouse": freight.warehouse,
        "Image": image.repo_url if image else "",
        "Digest": image.digest if image else "",
    }


def commit_message(
    template: str | None, stage: str, freight: Freight, previous: Freight | None, by: str
) -> str:
    """Render the stage's commit message template (or the default one)."""
    return templates.render_commit_message(template, template_context(stage, freight, previous, by))


def stage_commit_message(stage: Stage, freight: Freight, previous: Freight | None, by: str) -> str:
    """The commit message of a promotion of ``freight`` to ``stage``.

    Kargo steps: the ``git-commit`` step's ``message`` (or ``messageFromSteps``) run with
    the freight; otherwise the stage's ``commitMessageTemplate`` (or the default one).
    A step message that cannot be computed falls back to the default: the edit itself
    then fails loudly with the reason.
    """
    for update in stage.git_repo_updates:
        if update.program is None:
            continue
        try:
            message = run_program(update.program, stage.name, freight, None).message
        except ValueError:
            message = None
        if message:
            return message
    template = next(
        (u.commit_message_template for u in stage.git_repo_updates if u.commit_message_template),
        None,
    )
    return commit_message(template, stage.name, freight, previous, by)


def files_to_read(update: GitRepoUpdate) -> list[str]:
    """Paths (relative to the repo root) a promotion through ``update`` edits."""
    if update.program is not None:
        return list(dict.fromkeys(s.file for s in update.program.steps if s.file is not None))
    paths = [_join(k.path, "kustomization.yaml") for k in update.kustomize]
    paths += [y.file for y in update.yaml]
    return list(dict.fromkeys(paths))


def _join(folder: str, name: str) -> str:
    folder = folder.strip("/")
    return f"{folder}/{name}" if folder and folder != "." else name


def render_edits(
    stage: Stage, update: GitRepoUpdate, freight: Freight, current: Mapping[str, str | None]
) -> dict[str, str]:
    """Return ``{path: new text}`` for the files ``update`` changes to run ``freight``.

    ``current`` maps each path of ``files_to_read(update)`` to its text (``None``: absent).
    Raises ``ManifestError`` naming the file and key when a file or key is missing.
    """
    if update.program is not None:
        return run_program(update.program, stage.name, freight, current).edits
    out: dict[str, str] = {}

    def text_of(path: str) -> str:
        if path in out:
            return out[path]
        text = current.get(path)
        if text is None:
            raise ManifestError(
                f"stage {stage.name}: {path} does not exist in the GitOps repository"
            )
        return text

    for k in update.kustomize:
        path = _join(k.path, "kustomization.yaml")
        image = freight.image(k.image)
        if image is None:
            raise ManifestError(f"stage {stage.name}: freight has no image {k.image} for {path}")
        out[path] = manifests.set_kustomize_image(
            text_of(path),
            k.image,
            new_tag=None if k.use_digest else image.tag,
            digest=image.digest if k.use_digest else None,
            file=path,
        )
    for y in update.yaml:
        if y.literal is not None:
            value = y.literal
        else:
            image = freight.image(y.image)
            if image is None:
                raise ManifestError(
                    f"stage {stage.name}: freight has no image {y.image or ''} for {y.file}"
                )
            value = manifests.image_value(image.repo_url, image.tag, image.digest, y.value)
        out[y.file] = manifests.set_yaml_value(text_of(y.file), y.key, value, file=y.file)
    return out
