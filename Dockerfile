# One image for every target: `docker run easyim --target gateway` etc. Without arguments it runs the
# standalone shape (every service, in-memory bus, SQLite in /srv/data: mount a volume there).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore from the project files alone, so that a change to the code reuses the restored layer.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY shared/EasyIm.Contracts/EasyIm.Contracts.csproj shared/EasyIm.Contracts/
COPY shared/EasyIm.Hosting/EasyIm.Hosting.csproj shared/EasyIm.Hosting/
COPY services/auth/EasyIm.Auth.csproj services/auth/
COPY services/friends/EasyIm.Friends.csproj services/friends/
COPY services/gateway/EasyIm.Gateway.csproj services/gateway/
COPY services/messaging/EasyIm.Messaging.csproj services/messaging/
COPY services/server/EasyIm.Server.csproj services/server/
RUN dotnet restore services/server/EasyIm.Server.csproj
COPY . .
RUN dotnet publish services/server/EasyIm.Server.csproj -c Release --no-restore -p:UseAppHost=false -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# The image's own HTTP port (8080) is not ours: the server binds 8888 and 8889 itself.
ENV ASPNETCORE_HTTP_PORTS= \
    EasyIm__DataDirectory=/srv/data
WORKDIR /srv
COPY --from=build /app /app
COPY deploy/health.sh /usr/local/bin/easyim-health
# The standalone shape's SQLite files, owned by the non-root user the image runs as (APP_UID is the
# aspnet image's `app` user). A named volume mounted here starts as a copy of it, ownership included.
RUN mkdir -p /srv/data && chown "$APP_UID" /srv/data
USER $APP_UID
EXPOSE 8888 8889
# Every target serves /health/ready on its management port when EasyIm:ManagementPort is set (compose: 8890,
# published nowhere), else on its API port (Gateway:ApiPort, 8889 unless set); the probe follows the setting.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["bash", "/usr/local/bin/easyim-health"]
ENTRYPOINT ["dotnet", "/app/easyim.dll"]
