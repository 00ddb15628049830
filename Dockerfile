# The shop's one image: web, worker, beat, relay, consumer and migrate all run from it with different
# commands and settings (deploy/). Runtime dependencies only (requirements.txt); static files are
# collected at build time, so the processes can run on a read-only root filesystem.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY manage.py ./
COPY config ./config
COPY integration ./integration
COPY contexts ./contexts

# collectstatic needs no database or secret (the embedded defaults serve); compileall writes the
# bytecode the read-only filesystem will not let the processes write.
RUN python manage.py collectstatic --noinput -v0 \
    && python -m compileall -q config integration contexts

RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind=0.0.0.0:8000", "--workers=2", "--access-logfile=-", "--limit-request-line=8190"]
