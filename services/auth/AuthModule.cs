using EasyIm.Auth.Consumers;
using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using EasyIm.Hosting;
using EasyIm.Hosting.Bus;
using EasyIm.Hosting.Database;
using EasyIm.Hosting.Ids;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EasyIm.Auth;

public static class AuthModule
{
    /// <summary>Users, passwords and tokens: the auth database, its id generator, the signing key and the token settings.</summary>
    public static IHostApplicationBuilder AddAuth(this IHostApplicationBuilder builder)
    {
        builder.AddServiceDatabase<AuthDbContext, SqliteAuthDbContext, PostgresAuthDbContext>(AuthDbContext.Service);
        builder.AddSnowflakeIds<AuthDbContext>(AuthDbContext.Service);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new PasswordHashing(builder.Configuration.GetValue(PasswordHashing.IterationsKey, PasswordHashing.DefaultIterations)));
        var throttle = builder.Configuration.BindSection<LoginThrottleOptions>(LoginThrottleOptions.Section);
        throttle.Validate();
        builder.Services.AddSingleton(throttle);
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.AddSingleton<SigningKeyStore>();
        builder.Services.AddSingleton((builder.Configuration.GetSection(TokenOptions.Section).Get<TokenOptions>() ?? new TokenOptions()).Validate());
        builder.Services.AddSingleton<TokenService>();
        builder.Services.AddScoped<SessionTokens>();
        builder.Services.AddHostedService<LoadSigningKey>();
        builder.Services.AddHostedService<PruneExpiredSessions>();
        return builder;
    }

    public static void AddAuthConsumers(IBusRegistrationConfigurator bus)
    {
        // Their messages carry passwords or tokens: a failure is answered 503 and the message dropped, never faulted
        // (a fault carries the message back and leaves it in an _error queue).
        bus.AddConsumer(BusSecrets.KeepOutOfFaults<RegisterUserConsumer, RegisterUser>());
        bus.AddConsumer(BusSecrets.KeepOutOfFaults<LoginUserConsumer, LoginUser>());
        bus.AddConsumer(BusSecrets.KeepOutOfFaults<LogoutUserConsumer, LogoutUser>());
        bus.AddConsumer(BusSecrets.KeepOutOfFaults<CheckTokenConsumer, CheckToken>());
        bus.AddConsumer(BusSecrets.KeepOutOfFaults<RefreshTokenConsumer, RefreshToken>());
        bus.AddConsumer(BusSecrets.KeepOutOfFaults<ValidateAccessTokenConsumer, ValidateAccessToken>());
        bus.AddConsumer<GetUserProfilesConsumer>();
        bus.AddConsumer<CheckSessionsConsumer>();
    }
}
