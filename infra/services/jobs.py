"""Commands on pipelines (the firm's) and jobs (on a client's profile).

Pipelines are the firm's: owners, admins and managers define them (the schema's permission);
any staff member may read them. A job is loaded only if the actor may see its client; its
managers are staff who may work on the client (see infra.services.tasks.check_worker); its
stage is always one of its pipeline's stages. Jobs go on while the client is on hold.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.client import Client
from domain.job import Job, Pipeline
from infra.services.tasks import check_worker
from infra.services.unit_of_work import Change, Commands, Outcome


class JobsService(Commands):
    """Pipelines and jobs."""

    # Pipelines ----------------------------------------------------------------

    def _pipeline(self, pipeline_id: UUID) -> Pipeline:
        return self.uow.get(Pipeline, pipeline_id)

    def create_pipeline(self, *, name: str, stages: list[str], key: str | None = None) -> Outcome:
        def build() -> Change:
            pipeline = Pipeline.create(name=name, stages=stages)
            return Change.of(pipeline, pipeline_id=str(pipeline.id))

        return self.uow.run("createPipeline", key, build)

    def add_pipeline_stage(
        self, pipeline_id: UUID, *, name: str, index: int | None = None, key: str | None = None
    ) -> Outcome:
        def build() -> Change:
            pipeline = self._pipeline(pipeline_id)
            stage_id = pipeline.add_stage(name, index)
            return Change.of(pipeline, pipeline_id=str(pipeline.id), stage_id=stage_id)

        return self.uow.run("addPipelineStage", key, build)

    def rename_pipeline_stage(
        self, pipeline_id: UUID, *, stage_id: str, name: str, key: str | None = None
    ) -> Outcome:
        def build() -> Change:
            pipeline = self._pipeline(pipeline_id)
            pipeline.rename_stage(stage_id, name)
            return Change.of(pipeline, pipeline_id=str(pipeline.id))

        return self.uow.run("renamePipelineStage", key, build)

    def reorder_pipeline_stages(
        self, pipeline_id: UUID, *, stage_ids: list[str], key: str | None = None
    ) -> Outcome:
        def build() -> Change:
            pipeline = self._pipeline(pipeline_id)
            pipeline.reorder_stages(stage_ids)
            return Change.of(pipeline, pipeline_id=str(pipeline.id))

        return self.uow.run("reorderPipelineStages", key, build)

    # Jobs ---------------------------------------------------------------------

    def _managers(self, client: Client, user_ids: list[str]) -> list[str]:
        return [
            check_worker(self, client, f"input.managerUserIds.{i}", user_id)
            for i, user_id in enumerate(user_ids)
        ]

    def create_job(
        self,
        client_id: UUID,
        *,
        name: str,
        pipeline_id: UUID,
        stage_id: str | None = None,
        manager_user_ids: list[str] | None = None,
        starts_on: date | None = None,
        due_on: date | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            pipeline = self._pipeline(pipeline_id)
            job = Job.create(
                client_id=client.id,
                name=name,
                pipeline=pipeline,
                stage_id=stage_id,
                manager_user_ids=self._managers(client, manager_user_ids or []),
                starts_on=starts_on,
                due_on=due_on,
            )
            return Change.of(job, job_id=str(job.id))

        return self.uow.run("createJob", key, build)

    def move_job(self, job_id: UUID, *, stage_id: str, key: str | None = None) -> Outcome:
        def build() -> Change:
            job = self.uow.visible(Job, job_id)
            job.move(self._pipeline(job.pipeline_id), stage_id)
            return Change.of(job, job_id=str(job.id))

        return self.uow.run("moveJob", key, build)

    def update_job(
        self,
        job_id: UUID,
        *,
        name: str | None = None,
        manager_user_ids: list[str] | None = None,
        starts_on: date | None = None,
        due_on: date | None = None,
        clear_starts_on: bool | None = None,
        clear_due_on: bool | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            job = self.uow.visible(Job, job_id)
            managers = None
            if manager_user_ids is not None:
                managers = self._managers(self.uow.get(Client, job.client_id), manager_user_ids)
            job.edit(
                name=name,
                manager_user_ids=managers,
                starts_on=starts_on,
                due_on=due_on,
                clear_starts_on=bool(clear_starts_on),
                clear_due_on=bool(clear_due_on),
            )
            return Change.of(job, job_id=str(job.id))

        return self.uow.run("updateJob", key, build)

    def set_job_status(self, job_id: UUID, *, status: str, key: str | None = None) -> Outcome:
        return self.uow.change(
            "setJobStatus",
            key,
            Job,
            job_id,
            lambda j: j.set_status(status),
            extra={"job_id": str(job_id)},
        )
