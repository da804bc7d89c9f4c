using EasyIm.Auth.Consumers;
using EasyIm.Auth.Data;
using EasyIm.Auth.Security;
using EasyIm.Hosting;
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
        bus.AddConsumer<RegisterUserConsumer>();
        bus.AddConsumer<LoginUserConsumer>();
        bus.AddConsumer<LogoutUserConsumer>();
        bus.AddConsumer<CheckTokenConsumer>();
        bus.AddConsumer<RefreshTokenConsumer>();
        bus.AddConsumer<ValidateAccessTokenConsumer>();
        bus.AddConsumer<GetUserProfilesConsumer>();
        bus.AddConsumer<CheckSessionsConsumer>();
    }
}
