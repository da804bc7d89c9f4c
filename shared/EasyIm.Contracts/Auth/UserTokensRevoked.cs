namespace EasyIm.Contracts.Auth;

/// <summary>
/// Every token of the user issued under a version below <paramref name="TokenVersion"/> stopped
/// working (logout or secret reset). Gateways close that user's live connections.
/// </summary>
public sealed record UserTokensRevoked(long UserId, int TokenVersion);
