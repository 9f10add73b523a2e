# One image for every Airflow component: the provider must be importable by the API server (connection
# form), the DAG processor, the scheduler, the workers and the triggerer.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}
ARG AIRFLOW_VERSION
COPY --chown=airflow:0 pyproject.toml README.md /opt/airflow-asf-ifg/
COPY --chown=airflow:0 airflow_asf_ifg /opt/airflow-asf-ifg/airflow_asf_ifg
# Pin Airflow so that installing the provider never upgrades or downgrades it.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow-asf-ifg[sandbox]"
