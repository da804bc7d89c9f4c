using System.Globalization;
using System.Text.Json;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Storage;

/// <summary>An easyim process on a data directory of its own (or PostgreSQL), and the calls the storage tests make to it.</summary>
public sealed class StoreServer : IAsyncDisposable
{
    public static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(90);

    private readonly EasyImProcess _process;
    private readonly string _workDir;
    private readonly HttpClient _http;

    private StoreServer(EasyImProcess process, string workDir, int socketPort, int apiPort)
    {
        _process = process;
        _workDir = workDir;
        SocketPort = socketPort;
        ApiPort = apiPort;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{apiPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int SocketPort { get; }
    public int ApiPort { get; }

    public static async Task<StoreServer> StartAsync(string workDir, string dataDirectory, IDictionary<string, string>? environment = null)
    {
        var (socketPort, apiPort) = (TestInfrastructure.FreePort(), TestInfrastructure.FreePort());
        var process = EasyImProcess.Start(["--port", Text(socketPort), "--apiport", Text(apiPort), "--data", dataDirectory, "--EasyIm:ListenAddress=127.0.0.1"],
            workDir, environment);
        var server = new StoreServer(process, workDir, socketPort, apiPort);
        try
        {
            await process.WaitUntilReadyAsync(apiPort);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <c>easyim</c> with <paramref name="args"/> to its end: exit code and output.</summary>
    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string workDir, params string[] args)
    {
        await using var process = EasyImProcess.Start(args, workDir);
        var code = await process.WaitForExitAsync(ExitTimeout);
        return (code, process.Stdout, process.Stderr);
    }

    /// <summary>Stops it as a user does (<c>easyim --stop</c>) and waits for it to exit: its files are then closed and unlocked.</summary>
    public async Task StopAsync()
    {
        var (code, _, stderr) = await RunAsync(_workDir, "--stop", "--apiport", Text(ApiPort));
        Assert.True(code == 0, stderr);
        Assert.Equal(0, await _process.WaitForExitAsync(ExitTimeout));
    }

    public bool HasExited => _process.HasExited;

    public EasyImApi Api(string? accessToken = null)
    {
        var api = EasyImApi.Connect("127.0.0.1", ApiPort);
        api.AccessToken = accessToken;
        return api;
    }

    /// <summary>A new account: its session and password.</summary>
    public async Task<(ApiSession Session, string Account, string Password)> RegisterAsync()
    {
        var account = "st" + Guid.NewGuid().ToString("N")[..10];
        const string password = "backup-and-move-1";
        using var api = Api();
        return (await api.RegisterAsync(account, password), account, password);
    }

    public async Task BefriendAsync(ApiSession a, ApiSession b)
    {
        using var asker = Api(a.AccessToken);
        var request = await asker.AddFriendAsync(b.UserId);
        using var accepter = Api(b.AccessToken);
        await accepter.AcceptFriendAsync(request);
    }

    public async Task<EasyImClient> ConnectAsync(ApiSession user)
    {
        var client = await EasyImClient.ConnectAsync("127.0.0.1", SocketPort, ClientTransport.TcpJson, new EasyImClientOptions { KeepAliveEvery = TimeSpan.FromSeconds(2) });
        await client.HandshakeAsync(user.UserId, user.AccessToken);
        return client;
    }

    /// <summary>Sends one chat message and waits for its ack, which must be SENT.</summary>
    public static async Task SendAsync(EasyImClient client, long to, string text, Msg.Types.ChatType chatType = Msg.Types.ChatType.Single)
    {
        var clientMsgId = Guid.NewGuid().ToString("N");
        await client.SendAsync(Frames.Chat(to, text, clientMsgId, chatType: chatType));
        var ack = await client.AckAsync(clientMsgId);
        Assert.Equal(Msg.Types.MsgStatus.Sent, ack.Status);
    }

    /// <summary>A conversation's whole history (at most 200), oldest first, as the API returns each message.</summary>
    public async Task<List<JsonElement>> HistoryAsync(string accessToken, string conversationId)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/chat/history?conversation_id={conversationId}&limit=200");
        request.Headers.Authorization = new("Bearer", accessToken);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        var items = JsonDocument.Parse(text).RootElement.GetProperty("data").GetProperty("items");
        return [.. items.EnumerateArray().Select(i => i.Clone()).Reverse()];
    }

    public async Task<string> GetTextAsync(string path, string accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new("Bearer", accessToken);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return text;
    }

    public static string Pair(long a, long b) => a < b ? $"s_{Text(a)}_{Text(b)}" : $"s_{Text(b)}_{Text(a)}";

    public static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
    }
}
