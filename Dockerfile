# The Switchyard image: one static binary on an empty base, run as a
# non-root user, its data in the /data volume. Build with
# `make release-docker` (or `docker build --build-arg VERSION=… .`).
FROM golang:1.26-alpine AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# CGO_ENABLED=0: a static binary that needs nothing from the base image.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/switchyard ./cmd/switchyard \
 && mkdir -p /out/data

FROM scratch
# Outgoing HTTPS (Slack, HubSpot, …) needs the CA roots; time zones are
# compiled into the binary.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/switchyard /switchyard
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV SWITCHYARD_ADDR=0.0.0.0:8080 \
    SWITCHYARD_DATA=/data
VOLUME ["/data"]
EXPOSE 8080
# Ready: recovery done and the database takes writes (GET /readyz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/switchyard", "healthcheck"]
ENTRYPOINT ["/switchyard"]
CMD ["serve"]
