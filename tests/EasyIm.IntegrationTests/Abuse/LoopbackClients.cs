using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>An API answer with its <c>Retry-After</c>, when there is one.</summary>
public sealed record ThrottledReply(int Status, int Code, string Msg, JsonElement Data, int? RetryAfter);

/// <summary>
/// Clients that come from another loopback address than 127.0.0.1 (on Linux all of 127.0.0.0/8 is this
/// machine): to the server they are other people, each with its own per-address budgets.
/// </summary>
public static class LoopbackClients
{
    /// <summary>An HTTP client whose connections leave from <paramref name="localAddress"/>.</summary>
    public static HttpClient From(string localAddress, Uri baseAddress) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = baseAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    public static async Task<ThrottledReply> PostAsync(this HttpClient http, string path, object body, IDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            request.Headers.TryAddWithoutValidation(name, value);
        using var response = await http.SendAsync(request);
        return await ReadAsync(response);
    }

    public static async Task<ThrottledReply> ReadAsync(HttpResponseMessage response)
    {
        var reply = await ApiReply.ReadAsync(response);
        var retryAfter = response.Headers.RetryAfter?.Delta is { } delta ? (int?)delta.TotalSeconds : null;
        return new ThrottledReply(reply.Status, reply.Code, reply.Msg, reply.Data, retryAfter);
    }

    public static Task<ThrottledReply> RegisterAsync(this HttpClient http, string? account = null) =>
        http.PostAsync("/api/user/register", new { account = account ?? NewAccount(), password = "pass-word-1" });

    public static Task<ThrottledReply> LoginAsync(this HttpClient http, string account, string password) =>
        http.PostAsync("/api/user/login", new { account, password });

    public static string NewAccount() => "a" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// One HTTP/1.1 request written by hand on a socket from <paramref name="localAddress"/>, after
    /// <paramref name="preamble"/> (a PROXY protocol header, say); returns the whole answer, or what came
    /// before the server closed the connection ("" when it closed without a word).
    /// </summary>
    public static async Task<string> RawAsync(string localAddress, int port, byte[] preamble, string method, string path, string? json = null,
        IDictionary<string, string>? headers = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var body = json is null ? [] : Encoding.UTF8.GetBytes(json);
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        if (json is not null)
            head.Append("Content-Type: application/json\r\n");
        head.Append($"Content-Length: {body.Length}\r\n\r\n");
        await socket.SendAsync(preamble.Concat(Encoding.ASCII.GetBytes(head.ToString())).Concat(body).ToArray());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                if (read == 0)
                    break;
                answer.Write(buffer, 0, read);
            }
        }
        catch (SocketException)
        {
            // Reset by the server: what arrived before is the answer.
        }
        return Encoding.UTF8.GetString(answer.ToArray());
    }

    public static byte[] ProxyV1(string client, int clientPort, int serverPort) =>
        Encoding.ASCII.GetBytes($"PROXY TCP4 {client} 127.0.0.1 {clientPort} {serverPort}\r\n");
}
