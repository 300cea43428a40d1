# s3xproxy container image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t s3xproxy .
#   docker run -v $PWD/config.yaml:/etc/s3xproxy/config.yaml:ro -p 8080:8080 -p 9090:9090 s3xproxy
#
# The build stage runs `make image-binary`, the same target CI and developers
# run, so the binary in the image is the one tested outside Docker: static
# (CGO_ENABLED=0), -trimpath, version stamped through -ldflags.
#
# Health: the image has no shell or curl. Probe the admin listener from the
# orchestrator (GET /healthz for liveness, /readyz for readiness on port 9090;
# set admin.listen: ":9090" in the config, its default is loopback only).
# See docs/deploy.md.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN make image-binary VERSION=${VERSION} \
 && install -D -m 0755 bin/s3xproxy-static /out/s3xproxy \
 && install -d -m 0750 /out/var/lib/s3xproxy

# distroless static: CA certificates, /etc/passwd with nonroot (65532), no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/s3xproxy /s3xproxy
# certmagic storage (tls.acme.storage default); mount a volume here to share
# ACME certificates between replicas.
COPY --from=build --chown=65532:65532 /out/var/lib/s3xproxy /var/lib/s3xproxy
USER 65532:65532
# 8080 plain HTTP (server.listen), 8443 HTTPS (tls.listen), 9090 admin (admin.listen).
EXPOSE 8080 8443 9090
VOLUME ["/var/lib/s3xproxy"]
ENTRYPOINT ["/s3xproxy"]
CMD ["serve", "--config", "/etc/s3xproxy/config.yaml"]
