using System.Net.Security;

namespace EasyIm.Client;

public sealed class EasyImClientOptions
{
    /// <summary>The WebSocket path; the gateway accepts any, <c>/ws</c> is the documented one.</summary>
    public string WebSocketPath { get; init; } = "/ws";

    /// <summary>The largest frame accepted from the server; a larger one ends the connection.</summary>
    public int MaxFrameBytes { get; init; } = 1024 * 1024;

    /// <summary>
    /// Received frames kept until taken (<see cref="EasyImClient.WaitForAsync"/>, <see cref="EasyImClient.ReadAllAsync"/>).
    /// When full, the client stops reading the socket until one is taken, as a real slow client would.
    /// </summary>
    public int MaxPendingFrames { get; init; } = 100_000;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Connect over TLS: raw TCP inside TLS, WebSocket as <c>wss://</c> (a server with <c>EasyIm:Tls</c> set).</summary>
    public bool Tls { get; init; }

    /// <summary>The name the server's certificate must carry; the host connected to when unset.</summary>
    public string? TlsTargetHost { get; init; }

    /// <summary>How the server's certificate is checked; unset, the system's trust store decides.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; init; }

    /// <summary>
    /// When set, a heartbeat is sent this often after the handshake, so an idle connection is not
    /// dropped (the server closes one silent for <c>Gateway:DropAfter</c> seconds). Its replies
    /// arrive like any other frame.
    /// </summary>
    public TimeSpan? KeepAliveEvery { get; init; }

    /// <summary>
    /// When set with <see cref="RenewEvery"/>: the server closes a connection whose access token expires, so
    /// this often after the handshake a heartbeat carries a fresh access token from here (after a refresh),
    /// which renews the connection until that token expires. Renew well before expiry.
    /// </summary>
    public Func<CancellationToken, Task<string>>? FreshAccessToken { get; init; }

    public TimeSpan? RenewEvery { get; init; }
}
