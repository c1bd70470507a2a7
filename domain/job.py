"""Pipelines and jobs: a firm's ordered stages of work, and jobs on clients that move along them.

A `Pipeline` belongs to the firm (owners, admins and managers define them): a name and its
stages in order, each with a stable id. Stages can be added (at the end or at a place),
renamed and reordered; they are never removed (jobs may stand in them).

A `Job` is work on a client: a name, its pipeline and current stage, managers (staff user ids
the service checked), optional start and due dates (due not before start), and a status
ACTIVE, DONE or CANCELLED. Moving it to another stage of its pipeline records who moved it
from where to where; only an active job moves. Tasks may belong to a job (domain.task); a
job's progress (its done tasks over its tasks that are not cancelled) is a read-model figure.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated, DossierEvent
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.values import NAME_MAX, clean_date, required_text

STAGES_MAX = 50
"""Stages of one pipeline."""
MANAGERS_MAX = 20
"""Managers of one job."""

ACTIVE = "ACTIVE"
DONE = "DONE"
CANCELLED = "CANCELLED"
JOB_STATUSES = (ACTIVE, DONE, CANCELLED)


class Pipeline(DossierAggregate):
    """A firm's pipeline: ordered stages (each {"id", "name"})."""

    class PipelineCreated(DossierCreated):
        name: str
        stages: list[dict[str, str]]

    class PipelineStageAdded(DossierEvent):
        stage_id: str
        name: str
        index: int

        def apply(self, aggregate: Any) -> None:
            aggregate.stages.insert(self.index, {"id": self.stage_id, "name": self.name})

    class PipelineStageRenamed(DossierEvent):
        stage_id: str
        name: str
        previous: str

        def apply(self, aggregate: Any) -> None:
            aggregate.stage(self.stage_id)["name"] = self.name

    class PipelineStagesReordered(DossierEvent):
        stage_ids: list[str]

        def apply(self, aggregate: Any) -> None:
            by_id = {s["id"]: s for s in aggregate.stages}
            aggregate.stages = [by_id[i] for i in self.stage_ids]

    def __init__(self, firm_id: str, name: str, stages: list[dict[str, str]]) -> None:
        self.firm_id = firm_id
        self.name = name
        self.stages = [dict(s) for s in stages]

    @classmethod
    def create(cls, *, name: str, stages: list[str], pipeline_id: UUID | None = None) -> Pipeline:
        """A pipeline with at least one stage; stage names are unique (case-insensitively)."""
        if not stages:
            raise InvalidInput("input.stages", "a pipeline has at least one stage")
        if len(stages) > STAGES_MAX:
            raise LimitExceeded(STAGES_MAX, f"a pipeline has at most {STAGES_MAX} stages")
        cleaned: list[dict[str, str]] = []
        for i, stage in enumerate(stages):
            text = required_text(f"input.stages.{i}", stage, NAME_MAX)
            if text.lower() in (s["name"].lower() for s in cleaned):
                raise InvalidInput(f"input.stages.{i}", f"the stage {text!r} is given twice")
            cleaned.append({"id": str(uuid4()), "name": text})
        return cls._create(
            cls.PipelineCreated,
            id=pipeline_id or uuid4(),
            name=required_text("input.name", name, NAME_MAX),
            stages=cleaned,
        )

    def _unique(self, field: str, name: str, except_id: str | None = None) -> str:
        text = required_text(field, name, NAME_MAX)
        for stage in self.stages:
            if stage["id"] != except_id and stage["name"].lower() == text.lower():
                raise InvalidInput(field, f"the pipeline already has a stage {text!r}")
        return text

    def add_stage(self, name: str, index: int | None = None) -> str:
        """Add a stage at `index` (default: last); returns its id."""
        text = self._unique("input.name", name)
        if len(self.stages) >= STAGES_MAX:
            raise LimitExceeded(STAGES_MAX, f"a pipeline has at most {STAGES_MAX} stages")
        at = len(self.stages) if index is None else index
        if not 0 <= at <= len(self.stages):
            raise InvalidInput("input.index", f"index must be between 0 and {len(self.stages)}")
        stage_id = str(uuid4())
        self.trigger_event(self.PipelineStageAdded, stage_id=stage_id, name=text, index=at)
        return stage_id

    def rename_stage(self, stage_id: str, name: str) -> None:
        stage = self.find_stage(stage_id, "input.stageId")
        text = self._unique("input.name", name, except_id=stage_id)
        if text != stage["name"]:
            self.trigger_event(
                self.PipelineStageRenamed, stage_id=stage_id, name=text, previous=stage["name"]
            )

    def reorder_stages(self, stage_ids: list[str]) -> None:
        """Put the stages in this order (every stage exactly once)."""
        if sorted(stage_ids) != sorted(s["id"] for s in self.stages):
            raise InvalidInput("input.stageIds", "list every stage of the pipeline exactly once")
        if stage_ids != [s["id"] for s in self.stages]:
            self.trigger_event(self.PipelineStagesReordered, stage_ids=list(stage_ids))

    def find_stage(self, stage_id: str, field: str) -> dict[str, str]:
        """The stage, or InvalidInput on `field` when it is not a stage of this pipeline."""
        for stage in self.stages:
            if stage["id"] == stage_id:
                return stage
        raise InvalidInput(field, f"{stage_id} is not a stage of the pipeline {self.name}")

    def stage(self, stage_id: str) -> dict[str, str]:
        return next(s for s in self.stages if s["id"] == stage_id)


class Job(DossierAggregate):
    """A job on a client, on a pipeline."""

    class JobCreated(DossierCreated, ClientRelatedEvent):
        name: str
        pipeline_id: UUID
        pipeline_name: str
        stage_id: str
        stage_name: str
        manager_user_ids: list[str]
        starts_on: str | None
        due_on: str | None

    class JobMoved(ClientRelatedEvent):
        from_stage_id: str
        from_stage_name: str
        to_stage_id: str
        to_stage_name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.stage_id = self.to_stage_id

    class JobDetailsEdited(ClientRelatedEvent):
        name: str
        manager_user_ids: list[str]
        starts_on: str | None
        due_on: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name
            aggregate.manager_user_ids = list(self.manager_user_ids)
            aggregate.starts_on = self.starts_on
            aggregate.due_on = self.due_on

    class JobStatusChanged(ClientRelatedEvent):
        status: str
        previous: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = self.status

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        name: str,
        pipeline_id: UUID,
        stage_id: str,
        manager_user_ids: list[str],
        starts_on: str | None,
        due_on: str | None,
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.name = name
        self.pipeline_id = pipeline_id
        self.stage_id = stage_id
        self.manager_user_ids = list(manager_user_ids)
        self.starts_on = starts_on
        self.due_on = due_on
        self.status = ACTIVE

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        kwargs.setdefault("client_id", self.client_id)  # every event is about the client
        super().trigger_event(event_class, **kwargs)

    @staticmethod
    def _dates(starts_on: date | None, due_on: date | None) -> tuple[str | None, str | None]:
        if starts_on is not None:
            clean_date("input.startsOn", starts_on)
        if due_on is not None:
            clean_date("input.dueOn", due_on)
        if starts_on is not None and due_on is not None and due_on < starts_on:
            raise InvalidInput("input.dueOn", "the due date must not be before the start date")
        return (
            None if starts_on is None else starts_on.isoformat(),
            None if due_on is None else due_on.isoformat(),
        )

    @staticmethod
    def _managers(user_ids: list[str]) -> list[str]:
        unique = list(dict.fromkeys(user_ids))
        if len(unique) > MANAGERS_MAX:
            raise LimitExceeded(MANAGERS_MAX, f"a job has at most {MANAGERS_MAX} managers")
        return unique

    @classmethod
    def create(
        cls,
        *,
        client_id: UUID,
        name: str,
        pipeline: Pipeline,
        stage_id: str | None = None,
        manager_user_ids: list[str] | None = None,
        starts_on: date | None = None,
        due_on: date | None = None,
        job_id: UUID | None = None,
    ) -> Job:
        """An ACTIVE job in `stage_id` of the pipeline (default: its first stage). The caller
        checked the managers."""
        stage = (
            pipeline.stages[0]
            if stage_id is None
            else pipeline.find_stage(stage_id, "input.stageId")
        )
        starts, due = cls._dates(starts_on, due_on)
        return cls._create(
            cls.JobCreated,
            id=job_id or uuid4(),
            client_id=client_id,
            name=required_text("input.name", name, NAME_MAX),
            pipeline_id=pipeline.id,
            pipeline_name=pipeline.name,
            stage_id=stage["id"],
            stage_name=stage["name"],
            manager_user_ids=cls._managers(manager_user_ids or []),
            starts_on=starts,
            due_on=due,
        )

    def move(self, pipeline: Pipeline, stage_id: str) -> None:
        """Move the job to another stage of its pipeline (the same stage: nothing recorded)."""
        if pipeline.id != self.pipeline_id:  # pragma: no cover - the service loads its own
            raise InvalidInput("input.stageId", "not this job's pipeline")
        to = pipeline.find_stage(stage_id, "input.stageId")
        if self.status != ACTIVE:
            raise RuleViolated(
                "JOB_NOT_ACTIVE", f"the job is {self.status.lower()}; only active jobs move"
            )
        if to["id"] == self.stage_id:
            return
        current = next((s for s in pipeline.stages if s["id"] == self.stage_id), None)
        self.trigger_event(
            self.JobMoved,
            from_stage_id=self.stage_id,
            from_stage_name="" if current is None else current["name"],
            to_stage_id=to["id"],
            to_stage_name=to["name"],
        )

    def edit(
        self,
        *,
        name: str | None = None,
        manager_user_ids: list[str] | None = None,
        starts_on: date | None = None,
        due_on: date | None = None,
        clear_starts_on: bool = False,
        clear_due_on: bool = False,
    ) -> None:
        """Change the name, managers or dates (None: keep; clear_ flags remove a date)."""
        new_name = self.name if name is None else required_text("input.name", name, NAME_MAX)
        managers = (
            self.manager_user_ids if manager_user_ids is None else self._managers(manager_user_ids)
        )
        start = None if clear_starts_on else starts_on
        if start is None and not clear_starts_on and self.starts_on is not None:
            start = date.fromisoformat(self.starts_on)
        due = None if clear_due_on else due_on
        if due is None and not clear_due_on and self.due_on is not None:
            due = date.fromisoformat(self.due_on)
        starts, dues = self._dates(start, due)
        values = (new_name, managers, starts, dues)
        if values == (self.name, self.manager_user_ids, self.starts_on, self.due_on):
            return
        self.trigger_event(
            self.JobDetailsEdited,
            name=new_name,
            manager_user_ids=managers,
            starts_on=starts,
            due_on=dues,
        )

    def set_status(self, status: str) -> None:
        """ACTIVE, DONE or CANCELLED; the same status records nothing."""
        if status not in JOB_STATUSES:
            raise InvalidInput("input.status", f"status must be one of {', '.join(JOB_STATUSES)}")
        if status != self.status:
            self.trigger_event(self.JobStatusChanged, status=status, previous=self.status)
