# One image for every target: `docker run easyim --target gateway` etc.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish services/server/EasyIm.Server.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /srv
COPY --from=build /app /app
ENV EasyIm__DataDirectory=/srv/data
EXPOSE 8888 8889
ENTRYPOINT ["dotnet", "/app/easyim.dll"]
