using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;

namespace EasyIm.Gateway.Http;

/// <summary>
/// Per client address budgets of login, registration and token refresh: ASP.NET Core's rate limiter, one
/// token bucket per route and address (<see cref="ClientAddress.Key(HttpContext)"/>). Over budget the
/// request never reaches auth: 429 in the envelope, with <c>Retry-After</c>. Per account budgets live in
/// auth, the one place that sees every login of an account whichever gateway it came through.
/// </summary>
public static class AddressThrottle
{
    public const string Login = "login";
    public const string Register = "register";
    public const string Refresh = "refresh";

    public static IServiceCollection AddAddressThrottle(this IServiceCollection services, GatewayOptions.ThrottleOptions throttle)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(Login, new AddressPolicy("logins", throttle.Login));
            limiter.AddPolicy(Register, new AddressPolicy("registrations", throttle.Register));
            limiter.AddPolicy(Refresh, new AddressPolicy("token refreshes", throttle.Refresh));
        });
        return services;
    }

    /// <summary>
    /// The bucket of a budget: <c>Limit</c> at once, refilled evenly over the window (one token each
    /// window / limit; without auto-replenishment the partitioned limiter's tick adds the elapsed fraction).
    /// </summary>
    public static TokenBucketRateLimiterOptions Bucket(GatewayOptions.AddressBudget budget) => new()
    {
        TokenLimit = budget.Limit,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromSeconds((double)budget.WindowSeconds / budget.Limit),
        QueueLimit = 0,
        AutoReplenishment = false,
    };

    private sealed class AddressPolicy(string what, GatewayOptions.AddressBudget budget) : IRateLimiterPolicy<string>
    {
        private readonly TokenBucketRateLimiterOptions _bucket = Bucket(budget);

        public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
            RateLimitPartition.GetTokenBucketLimiter(ClientAddress.Key(httpContext), _ => _bucket);

        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => async (context, _) =>
        {
            var after = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : _bucket.ReplenishmentPeriod;
            var seconds = (int)Math.Clamp(Math.Ceiling(after.TotalSeconds), 1, int.MaxValue);
            context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await ApiResults.WriteFailAsync(context.HttpContext, StatusCodes.Status429TooManyRequests,
                $"too many {what} from your address (at most {budget.Limit} per {budget.WindowSeconds} s); try again in {seconds} s");
        };
    }
}
