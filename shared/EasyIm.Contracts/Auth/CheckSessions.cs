namespace EasyIm.Contracts.Auth;

/// <summary>
/// A gateway back on the bus after a broker fault asks which of its live connections' sessions were
/// revoked meanwhile (a revocation event published while it was away is lost). At most
/// <see cref="MaxSessions"/> per request. Replies <see cref="SessionsChecked"/>.
/// </summary>
public sealed record CheckSessions(IReadOnlyList<LiveSession> Sessions)
{
    public const int MaxSessions = 1000;
}
