using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;

namespace EasyIm.IntegrationTests.Shapes;

/// <summary>
/// A RabbitMQ vhost of its own (made and deleted through the management API: http://host:15672, or
/// <c>EASYIM_TEST_RABBITMQ_API</c>), so that a deployment's consumers never meet another's on shared queue names.
/// </summary>
public sealed class RabbitMqVhost : IAsyncDisposable
{
    public const string ApiVariable = "EASYIM_TEST_RABBITMQ_API";

    private readonly HttpClient _api;
    private readonly string _name;

    private RabbitMqVhost(HttpClient api, string name, string amqp)
    {
        _api = api;
        _name = name;
        Amqp = amqp;
    }

    /// <summary>The amqp:// address of the vhost, with the broker's credentials.</summary>
    public string Amqp { get; }

    /// <summary>Makes the vhost on the broker of <paramref name="rabbitMq"/>; throws <see cref="HttpRequestException"/> when the management API does not answer.</summary>
    public static async Task<RabbitMqVhost> CreateAsync(string rabbitMq, string name)
    {
        var amqp = new Uri(rabbitMq);
        var credentials = Uri.UnescapeDataString(amqp.UserInfo.Length > 0 ? amqp.UserInfo : "guest:guest");
        var address = Environment.GetEnvironmentVariable(ApiVariable) is { Length: > 0 } configured
            ? new Uri(configured)
            : new UriBuilder("http", amqp.Host, 15672).Uri;
        var api = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
        try
        {
            (await api.PutAsync($"api/vhosts/{name}", JsonContent.Create(new { }))).EnsureSuccessStatusCode();
            var vhost = new RabbitMqVhost(api, name, new UriBuilder(amqp) { Path = "/" + name }.Uri.ToString());
            (await api.PutAsJsonAsync($"api/permissions/{name}/{Uri.EscapeDataString(credentials.Split(':')[0])}",
                new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
            return vhost;
        }
        catch
        {
            await api.DeleteAsync($"api/vhosts/{name}");
            api.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _api.DeleteAsync($"api/vhosts/{_name}");
        }
        catch (HttpRequestException)
        {
            // The broker is gone (the run is ending); nothing is left to delete.
        }
        _api.Dispose();
    }
}
