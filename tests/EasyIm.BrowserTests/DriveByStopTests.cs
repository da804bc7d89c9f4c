using System.Net;
using System.Net.Sockets;
using System.Text;
using EasyIm.IntegrationTests.Server;
using Microsoft.Playwright;

namespace EasyIm.BrowserTests;

/// <summary>
/// Issue 13's drive-by stop: any web page open in a browser on the server's machine could stop it with a
/// "simple" cross-origin request (no preflight) to <c>/api/local/stop</c>. A page served from another
/// origin (a tiny HTTP server on another loopback port) now tries it every way a page can, on both ports,
/// and the server goes on serving: the route is gone (<c>easyim --stop</c> uses a Unix socket).
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class DriveByStopTests(ChromiumFixture chromium) : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private ServerProcess? _server;

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 does not call the latter on a test class, and the server outlived the run.
    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    private static string AttackPage(ServerProcess server) => $$"""
        <!doctype html>
        <html><head><title>cute cats</title></head><body>
        <iframe name="sink"></iframe>
        <form id="form" method="POST" target="sink" enctype="text/plain" action="http://127.0.0.1:{{server.ApiPort}}/api/local/stop">
          <input name="x" value="y">
        </form>
        <script>
          const targets = [{{server.ApiPort}}, {{server.Port}}].map(p => `http://127.0.0.1:${p}/api/local/stop`);
          Promise.allSettled(targets.flatMap(url => [
            fetch(url, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: 'stop' }),
            fetch(url, { method: 'POST', mode: 'cors', headers: { 'content-type': 'text/plain' } }),
          ])).then(() => {
            document.getElementById('form').submit();
            document.title = 'sent';
          });
        </script>
        </body></html>
        """;

    [SkippableFact]
    public async Task A_page_from_another_origin_cannot_stop_the_server_by_any_simple_request_on_either_port()
    {
        var browser = chromium.RequireBrowser();
        _server = await ServerProcess.StartAsync();
        using var attacker = new HttpListener();
        var attackerPort = FreePort();
        attacker.Prefixes.Add($"http://127.0.0.1:{attackerPort}/");
        attacker.Start();
        var serving = ServeAsync(attacker, AttackPage(_server));

        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var stopAnswers = new List<IResponse>();
        page.Response += (_, response) =>
        {
            if (response.Url.EndsWith("/api/local/stop", StringComparison.Ordinal))
            {
                lock (stopAnswers)
                    stopAnswers.Add(response);
            }
        };
        // The form's navigation in the iframe is the last request the page makes.
        var formAnswered = page.WaitForResponseAsync(r => r.Url.EndsWith("/api/local/stop", StringComparison.Ordinal) && r.Request.ResourceType == "document",
            new PageWaitForResponseOptions { Timeout = (float)Wait.TotalMilliseconds });
        await page.GotoAsync($"http://127.0.0.1:{attackerPort}/");
        await page.WaitForFunctionAsync("document.title === 'sent'", null, new PageWaitForFunctionOptions { Timeout = (float)Wait.TotalMilliseconds });
        var form = await formAnswered;

        // Every attempt reached the server (the browser sent them all) and was answered 404.
        List<int> statuses;
        lock (stopAnswers)
            statuses = stopAnswers.Select(r => r.Status).ToList();
        Assert.True(statuses.Count >= 3, $"only {statuses.Count} stop requests were answered");
        Assert.All(statuses, s => Assert.Equal(404, s));
        Assert.Equal(404, form.Status);

        // And the server goes on: it answers, and a new user can register.
        using var http = new HttpClient { BaseAddress = _server.BaseAddress, Timeout = Wait };
        Assert.True((await http.GetAsync("health/ready")).IsSuccessStatusCode);
        var register = await http.PostAsync("api/user/register",
            new StringContent("""{"account":"after_attack","password":"secret-1"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, register.StatusCode);

        attacker.Stop();
        await serving;
    }

    /// <summary>Serves <paramref name="html"/> to every request until the listener stops.</summary>
    private static async Task ServeAsync(HttpListener listener, string html)
    {
        var body = Encoding.UTF8.GetBytes(html);
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            context.Response.ContentType = "text/html; charset=utf-8";
            context.Response.ContentLength64 = body.Length;
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }

    private static int FreePort() => TestPorts.Free();
}
