namespace EasyIm.Contracts.Auth;

/// <summary>The sessions of a <see cref="CheckSessions"/> whose tokens no longer work (logout, secret reset, reuse, or gone).</summary>
public sealed record SessionsChecked(IReadOnlyList<LiveSession> Revoked);
