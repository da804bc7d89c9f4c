using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Server;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.IntegrationTests.Telemetry;

namespace EasyIm.IntegrationTests.Deploy;

/// <summary>
/// <c>EasyIm:Tls</c> (issue 16): with a certificate, the HTTP API is HTTPS, WebSocket is WSS and the raw TCP port speaks
/// TLS, for a real standalone process; a plaintext client gets a prompt close, never a hang, while TLS clients chat on;
/// a renewed certificate is served to new connections without a restart. The certificates come from a throwaway CA made
/// here, trusted by these clients only.
/// </summary>
public sealed class TlsTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly ThrowawayCa _ca = new();

    private string CertificatePath => _ca.CertificatePath;
    private string KeyPath => _ca.KeyPath;
    private string IssueServerCertificate() => _ca.IssueServerCertificate();
    private bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) => _ca.Validate(sender, certificate, chain, errors);

    private Task<ServerProcesses> StartAsync() => ServerProcesses.StandaloneAsync(new Dictionary<string, string>
    {
        ["EasyIm__Tls__CertificatePath"] = CertificatePath,
        ["EasyIm__Tls__KeyPath"] = KeyPath,
        ["EasyIm__ManagementPort"] = TestInfrastructure.FreePort().ToString(CultureInfo.InvariantCulture),
    });

    private EasyImClientOptions TlsClient => new() { Tls = true, ServerCertificateValidation = Validate, ConnectTimeout = Wait };

    /// <summary>The certificate a new TLS connection to the port is shown.</summary>
    private async Task<string> PresentedThumbprintAsync(int port)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        await using var tls = new SslStream(tcp.GetStream());
        using var timeout = new CancellationTokenSource(Wait);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", RemoteCertificateValidationCallback = Validate }, timeout.Token);
        return X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData()).Thumbprint;
    }

    [Fact]
    public async Task Https_wss_and_tls_over_raw_tcp_carry_a_chat_and_a_plaintext_client_is_closed_at_once()
    {
        IssueServerCertificate();
        await using var server = await StartAsync();
        using var apiA = EasyImApi.ConnectTls("127.0.0.1", server.ApiPort, Validate);
        using var apiB = EasyImApi.ConnectTls("127.0.0.1", server.ApiPort, Validate);
        var a = await apiA.RegisterAsync("t" + Guid.NewGuid().ToString("N")[..12], "pass-word-1");
        var b = await apiB.RegisterAsync("t" + Guid.NewGuid().ToString("N")[..12], "pass-word-1");
        await apiB.AcceptFriendAsync(await apiA.AddFriendAsync(b.UserId));

        await using var overTcp = await EasyImClient.ConnectAsync("127.0.0.1", server.SocketPort, ClientTransport.TcpJson, TlsClient);
        await using var overWss = await EasyImClient.ConnectAsync("127.0.0.1", server.SocketPort, ClientTransport.WebSocketJson, TlsClient);
        await overTcp.HandshakeAsync(a.UserId, a.AccessToken);
        await overWss.HandshakeAsync(b.UserId, b.AccessToken);
        await overTcp.SendAsync(Frames.Chat(b.UserId, "over tls", "tls-1"));
        Assert.Equal("over tls", (await overWss.WaitForAsync(m => m.ClientMsgId == "tls-1" && m.MsgType == Msg.Types.MsgType.Text, Wait)).Content);

        // A plaintext client on the TLS port: its heartbeat is not a TLS handshake, so the connection ends at once.
        using (var plain = new TcpClient())
        {
            await plain.ConnectAsync(IPAddress.Loopback, server.SocketPort);
            var stream = plain.GetStream();
            await stream.WriteAsync(Encoding.UTF8.GetBytes($"{{\"msg_type\":4,\"from_user_id\":\"{a.UserId}\",\"content\":\"{{\\\"key\\\":\\\"KEEP_ALIVE\\\"}}\"}}\n"));
            using var timeout = new CancellationTokenSource(Wait);
            var buffer = new byte[1024];
            var read = await ReadToEndAsync(stream, buffer, timeout.Token);
            Assert.False(timeout.IsCancellationRequested, "the plaintext client was held open, not closed");
            Assert.DoesNotContain("KEEP_ALIVE", Encoding.UTF8.GetString(buffer, 0, read));
        }
        // Plain HTTP on the HTTPS port gets no page.
        using (var http = new HttpClient { Timeout = Wait })
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{server.ApiPort}/"));

        // The TLS clients were not disturbed.
        await overWss.SendAsync(Frames.Chat(a.UserId, "still here", "tls-2"));
        Assert.Equal("still here", (await overTcp.WaitForAsync(m => m.ClientMsgId == "tls-2" && m.MsgType == Msg.Types.MsgType.Text, Wait)).Content);
    }

    /// <summary>Reads until the server closes (or the token ends); returns the bytes read.</summary>
    private static async Task<int> ReadToEndAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        try
        {
            while (total < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken);
                if (n == 0)
                    break;
                total += n;
            }
        }
        catch (IOException)
        {
            // Reset by the server: closed too.
        }
        catch (OperationCanceledException)
        {
        }
        return total;
    }

    [Fact]
    public async Task A_renewed_certificate_is_served_to_new_connections_without_a_restart()
    {
        var first = IssueServerCertificate();
        await using var server = await StartAsync();
        Assert.Equal(first, await PresentedThumbprintAsync(server.SocketPort));
        Assert.Equal(first, await PresentedThumbprintAsync(server.ApiPort));

        var renewed = IssueServerCertificate();
        var deadline = DateTime.UtcNow + Wait;
        var presented = first;
        while (presented != renewed && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            presented = await PresentedThumbprintAsync(server.SocketPort);
        }

        Assert.Equal(renewed, presented);
        Assert.Equal(renewed, await PresentedThumbprintAsync(server.ApiPort));
    }

    [Fact]
    public async Task A_certificate_that_does_not_load_stops_the_start_naming_the_setting()
    {
        var port = TestInfrastructure.FreePort();
        await using var process = EasyImProcess.Start(["--apiport", port.ToString(CultureInfo.InvariantCulture)], environment: new Dictionary<string, string>
        {
            ["EasyIm__Tls__CertificatePath"] = Path.Combine(_ca.Directory, "missing.crt"),
            ["EasyIm__DataDirectory"] = Path.Combine(_ca.Directory, "data"),
        });

        Assert.NotEqual(0, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("EasyIm:Tls:CertificatePath", process.Stdout + process.Stderr, StringComparison.Ordinal);
    }

    public void Dispose() => _ca.Dispose();
}
