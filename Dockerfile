# The sandbox as a container: docker build -t sandbox . && docker run --rm -p 127.0.0.1:8750:8750 sandbox
# `-p 127.0.0.1:…` keeps the port on this machine. To share it, set an admin token and the rest of
# docs/security.md ("Before exposing it"): docker run -e SANDBOX_ADMIN_TOKEN=… -p 8750:8750 sandbox
# State is kept in memory unless SANDBOX_DATA_DIR is set. To keep it across restarts (docs/deployment.md):
# docker run --rm -p 127.0.0.1:8750:8750 -v sandbox-data:/data -e SANDBOX_DATA_DIR=/data sandbox
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# pyproject.toml names README.md as the package's readme, so the build needs it.
COPY pyproject.toml README.md ./
COPY sandbox/ sandbox/
COPY scenarios/ scenarios/

# Every dependency (aiohttp, pydantic, orjson, pyyaml, uvloop) ships manylinux wheels for
# CPython 3.11, so no compiler is needed.
RUN pip install --no-cache-dir . \
    && rm -rf build sandbox.egg-info \
    && useradd --system --no-create-home --uid 10001 sandbox \
    && mkdir /data && chown 10001 /data

# The data directory, for SANDBOX_DATA_DIR=/data: the server keeps sandbox.db and its lock file
# there. A new named volume (-v sandbox-data:/data) starts owned by uid 10001 like this directory; a
# host directory (-v "$PWD/data:/data") must be writable by uid 10001. SANDBOX_DATA_DIR is not set
# here, so memory stays the default and /data stays empty.
VOLUME ["/data"]

USER sandbox

EXPOSE 8750

# Settings come from SANDBOX_* variables: docker run -e SANDBOX_SEED=7 -p 127.0.0.1:8750:8750 sandbox
# A container must listen on every interface to be reached through a published port; without
# SANDBOX_ADMIN_TOKEN the server says so on stderr at start (the control plane is then open to
# whoever reaches the port).
CMD ["sandbox", "serve", "--host", "0.0.0.0"]
