using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace EasyIm.Gateway.Web;

/// <summary>
/// The browser chat client: static files embedded in this assembly (wwwroot/), served at <c>/</c> on the
/// API port (and on the long-connection port, whose HTTP goes to the same pipeline). The page reaches
/// the API and the WebSocket on its own origin, so it works the same behind a proxy.
/// </summary>
public static class WebClient
{
    public static WebApplication UseWebClient(this WebApplication app)
    {
        var files = new ManifestEmbeddedFileProvider(typeof(WebClient).Assembly, "wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            // The files change with the server, not on their own: a browser asks again each time
            // (ETag / Last-Modified make that cheap), so an upgraded server never meets a stale page.
            OnPrepareResponse = context => context.Context.Response.Headers.CacheControl = "no-cache",
        });
        return app;
    }
}
