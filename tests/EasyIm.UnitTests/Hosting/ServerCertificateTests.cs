using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EasyIm.Hosting;
using EasyIm.Hosting.Tls;
using EasyIm.UnitTests.Friends;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Hosting;

/// <summary><c>EasyIm:Tls</c>'s certificate: PEM (key beside it or in the same file), PKCS#12 with a password, a renewal picked up from the files, and files that do not load.</summary>
public sealed class ServerCertificateTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("easyim-cert-");

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string KeyPem(X509Certificate2 certificate) => certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();

    [Fact]
    public void A_pem_certificate_loads_with_its_key_beside_it_or_in_the_same_file()
    {
        using var certificate = SelfSigned("pem");
        var crt = Write("a.crt", certificate.ExportCertificatePem());
        var key = Write("a.key", KeyPem(certificate));
        var both = Write("both.pem", certificate.ExportCertificatePem() + "\n" + KeyPem(certificate));

        using var separate = new ServerCertificate(new TlsOptions { CertificatePath = crt, KeyPath = key }, NullLogger<ServerCertificate>.Instance);
        using var combined = new ServerCertificate(new TlsOptions { CertificatePath = both }, NullLogger<ServerCertificate>.Instance);

        Assert.Equal(certificate.Thumbprint, separate.Current.Thumbprint);
        Assert.True(separate.Current.HasPrivateKey);
        Assert.Equal(certificate.Thumbprint, combined.Current.Thumbprint);
    }

    [Fact]
    public void A_pkcs12_file_loads_with_its_password_and_without_it_stops_the_start_naming_the_setting()
    {
        using var certificate = SelfSigned("pfx");
        var pfx = Path.Combine(_directory.FullName, "server.pfx");
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pfx, "s3cret"));

        using var loaded = new ServerCertificate(new TlsOptions { CertificatePath = pfx, Password = "s3cret" }, NullLogger<ServerCertificate>.Instance);
        var refused = Assert.Throws<StartupException>(() => new ServerCertificate(new TlsOptions { CertificatePath = pfx, Password = "wrong" }, NullLogger<ServerCertificate>.Instance));

        Assert.Equal(certificate.Thumbprint, loaded.Current.Thumbprint);
        Assert.Contains("EasyIm:Tls:CertificatePath", refused.Message);
        Assert.DoesNotContain("wrong", refused.Message);
    }

    [Fact]
    public void A_missing_file_stops_the_start_naming_the_setting_and_the_path()
    {
        var missing = Path.Combine(_directory.FullName, "nowhere.crt");

        var refused = Assert.Throws<StartupException>(() => new ServerCertificate(new TlsOptions { CertificatePath = missing }, NullLogger<ServerCertificate>.Instance));

        Assert.Contains("EasyIm:Tls:CertificatePath", refused.Message);
        Assert.Contains(missing, refused.Message);
    }

    [Fact]
    public async Task Renewed_files_are_loaded_and_files_that_do_not_load_keep_the_current_certificate()
    {
        using var first = SelfSigned("first");
        var crt = Write("r.crt", first.ExportCertificatePem());
        var key = Write("r.key", KeyPem(first));
        using var served = new ServerCertificate(new TlsOptions { CertificatePath = crt, KeyPath = key }, NullLogger<ServerCertificate>.Instance);

        // Broken: a certificate whose key is not the one beside it. The old one stays.
        using var second = SelfSigned("second");
        File.WriteAllText(crt, second.ExportCertificatePem());
        await FriendsHarness.EventuallyAsync(() => served.FailedReloads > 0, "the changed certificate file to be tried", seconds: 15);
        Assert.Equal(first.Thumbprint, served.Current.Thumbprint);

        // Then the matching key: the renewal is served.
        File.WriteAllText(key, KeyPem(second));
        await FriendsHarness.EventuallyAsync(() => served.Current.Thumbprint == second.Thumbprint, "the renewed certificate to be served", seconds: 15);
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
