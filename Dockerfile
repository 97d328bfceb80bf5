# One image for every Farebox process; the command picks the service:
#   python -m seat_service | payment_service | booking_service | gateway, farebox migrate,
#   python -m booking_service relay | consume.
# Build: docker build -t farebox:dev .   Both stages use the same pinned base (CI may add its digest).
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/farebox
# Every dependency ships a manylinux wheel for CPython 3.11, so no compiler is needed even here.
COPY pyproject.toml README.md ./
COPY gen/ gen/
COPY common/ common/
COPY seat_service/ seat_service/
COPY payment_service/ payment_service/
COPY booking_service/ booking_service/
COPY gateway/ gateway/
COPY farebox_cli/ farebox_cli/
RUN /opt/farebox/bin/pip install --no-compile . \
    && /opt/farebox/bin/python -m compileall -q /opt/farebox/lib \
    && /opt/farebox/bin/pip uninstall --yes pip

FROM python:3.11.11-slim-bookworm AS runtime
# checkov:skip=CKV_DOCKER_2: Kubernetes probes the processes natively (gRPC health, /healthz); a
#   Docker HEALTHCHECK cannot know which service this container runs.
RUN groupadd --system --gid 10001 farebox \
    && useradd --system --uid 10001 --gid farebox --no-create-home --shell /usr/sbin/nologin farebox
COPY --from=build /opt/farebox /opt/farebox
ENV PATH=/opt/farebox/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
USER 10001:10001
CMD ["farebox", "--help"]
