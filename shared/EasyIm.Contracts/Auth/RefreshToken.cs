namespace EasyIm.Contracts.Auth;

/// <summary>
/// Rotates a refresh token: the presented one stops working and a new access and refresh token of
/// the same login session are issued (<paramref name="GrantType"/> says which one easyim's reply
/// field carries). A refresh token presented again after its rotation revokes its whole session.
/// With <paramref name="ResetSecret"/> every earlier token of the user stops working first.
/// Replies <see cref="TokenRefreshed"/> or <see cref="RequestRejected"/>.
/// </summary>
[CarriesSecret]
public sealed record RefreshToken(string GrantType, string Token, bool ResetSecret);
