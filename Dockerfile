# syntax=docker/dockerfile:1
# The serving image: the modelops package on Python 3.11, run by KServe as the modelops-sklearn
# ServingRuntime (applications/runtime). Build: docker build -t ghcr.io/example-org/modelops-serving .
#
# Both stages use the same base pinned by digest (renovate/dependabot bump it); the digest below is a
# placeholder until the first image build resolves python:3.11-slim. Versions come from
# requirements.lock, installed as constraints so the image gets the runtime dependencies at their
# locked versions and none of the development tools the lock also pins.

FROM python:3.11-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000 AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
COPY pyproject.toml README.md ./
COPY scripts ./scripts
RUN pip install --constraint requirements.lock . \
 && pip check

FROM python:3.11-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000
RUN groupadd --system --gid 10001 modelops \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin modelops
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["python", "-m", "modelops.serving"]
CMD ["--model_dir=/mnt/models", "--http_port=8080"]
