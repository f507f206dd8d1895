"""The job core: the job record, its storage, queue, events and files, the use cases the API calls,
and the executor that runs a job's action under at-least-once delivery."""
