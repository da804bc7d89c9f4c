using System.Globalization;

namespace EasyIm.Gateway.Connections;

/// <summary>Who a connection speaks for, once its heartbeat handshake succeeded.</summary>
public sealed class Session(long userId, string? deviceId, int tokenVersion)
{
    public long UserId { get; } = userId;
    public string UserIdText { get; } = userId.ToString(CultureInfo.InvariantCulture);
    public string? DeviceId { get; } = deviceId;
    /// <summary>The token version the handshake's token was issued under; a revocation above it ends the connection.</summary>
    public int TokenVersion { get; } = tokenVersion;
}
