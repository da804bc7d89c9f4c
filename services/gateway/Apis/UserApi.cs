using EasyIm.Contracts.Auth;
using EasyIm.Gateway.Http;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace EasyIm.Gateway.Apis;

/// <summary>easyim's user routes. The gateway only reads and checks input; auth decides, over the bus.</summary>
public static class UserApi
{
    public sealed record SessionData(string Id, string Nickname, string Avatar, string AccessToken, long ExpiresIn, string RefreshToken);
    public sealed record TokenCheckData(long ExpiresIn, string GrantType);
    /// <summary>
    /// easyim's <c>{token, expires_in, grant_type}</c> (the token of the grant asked for), and the whole new pair
    /// beside it: a refresh rotates the refresh token, so a client must keep <c>refresh_token</c> from here.
    /// </summary>
    public sealed record TokenRefreshData(string Token, long ExpiresIn, string GrantType,
        string AccessToken, long AccessExpiresIn, string RefreshToken, long RefreshExpiresIn);

    public static RouteGroupBuilder MapUserApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/user").WithTags("User");
        api.MapPost("/register", Register).RequireRateLimiting(AddressThrottle.Register)
            .WithSummary("Create an account; answers like login").WithDescription("JSON body: {account, password, nickname?}");
        api.MapPost("/login", Login).RequireRateLimiting(AddressThrottle.Login)
            .WithSummary("Log in with account and password").WithDescription("JSON body: {account, password}");
        api.MapPost("/logout", Logout)
            .WithSummary("Revoke every token of the user (access_token in body, query or Authorization header)");
        api.MapGet("/check_token", CheckToken)
            .WithSummary("Tell whether an access or refresh token is live, and for how long");
        api.MapPost("/refresh_token", Refresh).RequireRateLimiting(AddressThrottle.Refresh)
            .WithSummary("Rotate a refresh token: a new access and refresh token, the old refresh token dead; reset_secret revokes all earlier tokens")
            .WithDescription("JSON body: {grant_type: access_token|refresh_token, refresh_token, reset_secret?}. " +
                "token is the new token of grant_type; refresh_token is always the new refresh token. " +
                "A refresh token used again after its rotation revokes its whole login session.");
        return api;
    }

    private static SessionData ToSession(UserSessionIssued s) =>
        new(s.UserId.ToString(), s.Nickname, s.Avatar, s.AccessToken, s.ExpiresIn, s.RefreshToken);

    public static async Task<IResult> Register(HttpRequest request, [FromServices] IRequestClient<RegisterUser> auth, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var account = input.RequiredString("account", AccountRules.AccountMaxLength);
        var password = input.RequiredString("password", AccountRules.PasswordMaxLength);
        var nickname = input.OptionalString("nickname", AccountRules.NicknameMaxLength);
        if (AccountRules.CheckRegistration(account, password, nickname) is { } broken)
            throw new ApiInputException(broken.Field, broken.Message);
        return await ServiceCalls.AskAsync(auth, new RegisterUser(account, password, nickname ?? ""), (UserSessionIssued s) => ToSession(s), ct);
    }

    public static async Task<IResult> Login(HttpRequest request, [FromServices] IRequestClient<LoginUser> auth, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var account = input.RequiredString("account", AccountRules.AccountMaxLength);
        var password = input.RequiredString("password", AccountRules.PasswordMaxLength);
        return await ServiceCalls.AskAsync(auth, new LoginUser(account, password), (UserSessionIssued s) => ToSession(s), ct);
    }

    public static async Task<IResult> Logout(HttpRequest request, [FromServices] IRequestClient<LogoutUser> auth, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var token = input.AccessToken(request) ?? throw new ApiInputException("access_token", "access_token is required");
        return await ServiceCalls.AskAsync(auth, new LogoutUser(token), (UserLoggedOut _) => Empty.Instance, ct, "logged out");
    }

    public static async Task<IResult> CheckToken(HttpRequest request, [FromServices] IRequestClient<Contracts.Auth.CheckToken> auth, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var token = input.OptionalString("token", 4096) is { Length: > 0 } t ? t
            : input.AccessToken(request) ?? throw new ApiInputException("token", "token is required");
        return await ServiceCalls.AskAsync(auth, new Contracts.Auth.CheckToken(token),
            (TokenChecked c) => new TokenCheckData(c.ExpiresIn, c.GrantType), ct);
    }

    public static async Task<IResult> Refresh(HttpRequest request, [FromServices] IRequestClient<RefreshToken> auth, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var grantType = input.RequiredString("grant_type", 32);
        var refreshToken = input.RequiredString("refresh_token", 4096);
        var resetSecret = input.OptionalBool("reset_secret");
        if (grantType is not ("access_token" or "refresh_token"))
            throw new ApiInputException("grant_type", "grant_type must be access_token or refresh_token");
        return await ServiceCalls.AskAsync(auth, new RefreshToken(grantType, refreshToken, resetSecret),
            (TokenRefreshed r) => r.GrantType == "refresh_token"
                ? new TokenRefreshData(r.RefreshToken, r.RefreshExpiresIn, r.GrantType, r.AccessToken, r.AccessExpiresIn, r.RefreshToken, r.RefreshExpiresIn)
                : new TokenRefreshData(r.AccessToken, r.AccessExpiresIn, r.GrantType, r.AccessToken, r.AccessExpiresIn, r.RefreshToken, r.RefreshExpiresIn),
            ct);
    }
}
