# One image for every Shiliu container: `serve <service>` runs a service, `provision` the bus.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only the project's own files (see .dockerignore), pinned by the same constraints as CI.
WORKDIR /src
COPY pyproject.toml constraints.txt ./
COPY events ./events
COPY services ./services
COPY shiliu ./shiliu
RUN pip install --constraint constraints.txt . \
    && rm -rf /src

RUN useradd --create-home --uid 10001 --user-group shiliu
USER shiliu
WORKDIR /home/shiliu

ENTRYPOINT ["shiliu"]
CMD ["--help"]
