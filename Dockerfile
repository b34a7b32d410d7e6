# Followup service image: the same code path as a local install (editable, so migrations/ ships too).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY migrations ./migrations
COPY seeds ./seeds
RUN pip install -e . && useradd --create-home followup && mkdir -p /data && chown followup /data
USER followup
WORKDIR /data
ENV FOLLOWUP_HTTP_HOST=0.0.0.0
EXPOSE 8080
CMD ["followup", "run"]
