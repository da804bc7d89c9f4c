using System.Globalization;

namespace EasyIm.Gateway.Connections;

/// <summary>What the access token a connection last presented says: its version, login session and expiry.</summary>
/// <param name="TokenVersion">The user's token version the token was issued under; a revocation above it ends the connection.</param>
/// <param name="SessionId">The login session the token belongs to (0 for a token from before sessions); its revocation ends the connection.</param>
/// <param name="ExpiresAt">When the token expires: the connection is closed then unless a heartbeat renews it with a fresh token.</param>
public sealed record TokenGrant(int TokenVersion, long SessionId, DateTimeOffset ExpiresAt);

/// <summary>Who a connection speaks for, once its heartbeat handshake succeeded, and on which token.</summary>
public sealed class Session(long userId, string? deviceId, TokenGrant grant)
{
    private TokenGrant _grant = grant;

    public long UserId { get; } = userId;
    public string UserIdText { get; } = userId.ToString(CultureInfo.InvariantCulture);
    public string? DeviceId { get; } = deviceId;

    /// <summary>The token the connection stands on: the handshake's, then the last one a heartbeat renewed it with.</summary>
    public TokenGrant Grant => Volatile.Read(ref _grant);

    public int TokenVersion => Grant.TokenVersion;
    public long SessionId => Grant.SessionId;
    public DateTimeOffset ExpiresAt => Grant.ExpiresAt;

    /// <summary>A heartbeat presented a fresh token of the same user: the connection now stands on it.</summary>
    public void Renew(TokenGrant grant) => Volatile.Write(ref _grant, grant);
}
