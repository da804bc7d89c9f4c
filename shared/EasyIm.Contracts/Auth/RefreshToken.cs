namespace EasyIm.Contracts.Auth;

/// <summary>
/// Issues a new token of <paramref name="GrantType"/> from a valid refresh token; with
/// <paramref name="ResetSecret"/> every earlier token of the user stops working first.
/// Replies <see cref="TokenRefreshed"/> or <see cref="RequestRejected"/>.
/// </summary>
public sealed record RefreshToken(string GrantType, string Token, bool ResetSecret);
