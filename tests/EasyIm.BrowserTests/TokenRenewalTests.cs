using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EasyIm.BrowserTests;

/// <summary>
/// The web client keeps its session on a server whose access tokens live seconds: it refreshes before the
/// token expires (keeping the rotated refresh token) and renews its live socket with the fresh token, so the
/// socket is never closed for an expired token and the page never goes offline.
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class TokenRenewalTests(ChromiumFixture chromium) : IAsyncLifetime
{
    private const int AccessLifetimeSeconds = 10;
    private IBrowserContext? _context;
    private ServerProcess? _server;

    public Task InitializeAsync()
    {
        SetDefaultExpectTimeout(20_000);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_context is not null)
            await _context.DisposeAsync();
        if (_server is not null)
            await _server.DisposeAsync();
    }

    [SkippableFact]
    public async Task The_page_stays_online_across_several_token_lifetimes_by_refreshing_and_renewing_its_socket()
    {
        var browser = chromium.RequireBrowser();
        _server = await ServerProcess.StartAsync($"--Auth:Tokens:AccessLifetimeSeconds={AccessLifetimeSeconds}");
        _context = await browser.NewContextAsync();
        _context.SetDefaultTimeout(60_000);
        var page = new ChatPage(await _context.NewPageAsync());
        await page.OpenAsync(_server.BaseAddress);
        await page.RegisterAsync("carol", "secret-1", "Carol");
        var first = await SessionAsync(page.Page);
        // Every change of the connection's state from here on: a socket closed for an expired token shows as "Reconnecting…".
        await page.Page.EvaluateAsync("""
            () => {
              window.statesSeen = [];
              const status = document.getElementById('connection-status');
              new MutationObserver(() => window.statesSeen.push(status.textContent)).observe(status, { childList: true, characterData: true, subtree: true });
            }
            """);

        // Two and a half token lifetimes: the first token and the next one expire meanwhile.
        await page.Page.WaitForFunctionAsync(
            $"started => Date.now() > started + {AccessLifetimeSeconds * 2500}", await page.Page.EvaluateAsync<double>("() => Date.now()"),
            new() { PollingInterval = 500, Timeout = AccessLifetimeSeconds * 2500 + 30_000 });

        Assert.Empty(await page.Page.EvaluateAsync<string[]>("() => window.statesSeen"));
        await Expect(page.Status).ToHaveTextAsync("Online");
        var now = await SessionAsync(page.Page);
        Assert.NotEqual(first.Access, now.Access);
        Assert.NotEqual(first.Refresh, now.Refresh);
        // The page's current tokens are the live ones; the first refresh token was rotated away.
        Assert.Equal(System.Net.HttpStatusCode.OK, await CheckTokenAsync(now.Access));
        Assert.Equal(System.Net.HttpStatusCode.OK, await CheckTokenAsync(now.Refresh));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await CheckTokenAsync(first.Refresh));
    }

    private static async Task<(string Access, string Refresh)> SessionAsync(IPage page)
    {
        var tokens = await page.EvaluateAsync<string[]>(
            "() => { const s = JSON.parse(sessionStorage.getItem('easyim.session')); return [s.access_token, s.refresh_token]; }");
        return (tokens[0], tokens[1]);
    }

    private async Task<System.Net.HttpStatusCode> CheckTokenAsync(string token)
    {
        using var http = new HttpClient { BaseAddress = _server!.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var response = await http.GetAsync("/api/user/check_token?token=" + Uri.EscapeDataString(token));
        return response.StatusCode;
    }
}
