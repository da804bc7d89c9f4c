using EasyIm.IntegrationTests.Server;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace EasyIm.BrowserTests;

/// <summary>
/// The web client on an https page (<c>EasyIm:Tls</c>, a certificate from a throwaway CA made here, which the browser
/// contexts are told to accept): it opens its socket as <c>wss://</c> on its own origin, and two people chat over it.
/// </summary>
[Collection(ChromiumCollection.Name)]
public sealed class HttpsWebClientTests(ChromiumFixture chromium) : IAsyncLifetime
{
    private const string Password = "secret-1";
    private readonly List<IBrowserContext> _contexts = [];
    private readonly ThrowawayCa _ca = new();
    private ServerProcess? _server;

    public Task InitializeAsync()
    {
        SetDefaultExpectTimeout(20_000);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var context in _contexts)
            await context.DisposeAsync();
        if (_server is not null)
            await _server.DisposeAsync();
        _ca.Dispose();
    }

    private async Task<(ChatPage Page, List<string> Sockets)> NewPageAsync(IBrowser browser)
    {
        // The CA is this test's own: the browser is told to accept the certificate rather than taught the CA.
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { IgnoreHTTPSErrors = true });
        _contexts.Add(context);
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        var sockets = new List<string>();
        page.WebSocket += (_, socket) =>
        {
            lock (sockets)
                sockets.Add(socket.Url);
        };
        var chat = new ChatPage(page);
        await chat.OpenAsync(_server!.BaseAddress);
        return (chat, sockets);
    }

    [SkippableFact]
    public async Task On_an_https_page_the_web_client_connects_over_wss_and_two_people_chat()
    {
        var browser = chromium.RequireBrowser();
        _ca.IssueServerCertificate();
        _server = await ServerProcess.StartTlsAsync(_ca.CertificatePath, _ca.KeyPath);
        var (alice, aliceSockets) = await NewPageAsync(browser);
        var (bob, _) = await NewPageAsync(browser);
        await alice.RegisterAsync("alice", Password, "Alice");
        await bob.RegisterAsync("bob", Password, "Bob");

        await alice.SearchAsync("bob");
        await alice.Button("Invite Bob").ClickAsync();
        await bob.Button("Accept Alice").ClickAsync();
        await Expect(alice.Chat("Bob")).ToBeVisibleAsync();
        await alice.OpenChatAsync("Bob");
        await alice.SendAsync("Hello over TLS");
        await bob.OpenChatAsync("Alice");
        await Expect(bob.Message("Hello over TLS")).ToBeVisibleAsync();

        Assert.StartsWith("https://", alice.Page.Url, StringComparison.Ordinal);
        lock (aliceSockets)
        {
            Assert.NotEmpty(aliceSockets);
            Assert.All(aliceSockets, url => Assert.StartsWith($"wss://127.0.0.1:{_server.ApiPort}/", url, StringComparison.Ordinal));
        }
    }
}
