"""Airflow DAG: run ``corpusforge nightly`` every night through SparkSubmitOperator.

Copy this file into your Airflow ``dags/`` folder and set the Airflow Variables it reads (or edit the
defaults). It needs ``apache-airflow-providers-apache-spark`` and a Spark connection (``spark_default``
by default) whose host is your master, e.g. ``spark://spark-master:7077``, ``yarn`` or ``k8s://...``.
The submitting machine needs the corpusforge code (the image of docker/Dockerfile has it under
/opt/corpusforge). ``{{ ds }}`` is the logical date: the run for 2024-06-01 starts after that day ends
and processes ``RAW/date=2024-06-01/`` plus any earlier pending partition.

The task exits with code 3 when the quality gates fail: the task fails, nothing is published and
CURRENT keeps naming the previous version. Retries are safe (a rerun of the same date is idempotent).
"""
from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.models import Variable
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

CODE = Variable.get("corpusforge_code", default_var="/opt/corpusforge")
CONFIG = Variable.get("corpusforge_config", default_var="web")  # a bundled preset name or a YAML path
RAW = Variable.get("corpusforge_raw", default_var="/data/raw")
STORE = Variable.get("corpusforge_store", default_var="/data/store")

with DAG(
    dag_id="corpusforge_nightly",
    description="Curate the night's raw partition and publish a dataset version when its gates pass",
    schedule="30 2 * * *",
    start_date=dt.datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,  # the store is locked by one nightly at a time anyway
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=15), "owner": "data-eng"},
    tags=["corpusforge"],
) as dag:
    SparkSubmitOperator(
        task_id="nightly",
        conn_id="spark_default",
        application=f"{CODE}/jobs/nightly.py",
        application_args=["--config", CONFIG, "--raw", RAW, "--date", "{{ ds }}", "--store", STORE],
        name="corpusforge-nightly-{{ ds }}",
        conf={
            "spark.pyspark.python": "/opt/venv/bin/python",
            "spark.sql.session.timeZone": "UTC",
        },
        driver_memory="4g",
        executor_memory="8g",
        execution_timeout=dt.timedelta(hours=6),
    )
