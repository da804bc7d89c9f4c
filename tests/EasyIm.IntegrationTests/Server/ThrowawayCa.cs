using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EasyIm.IntegrationTests.Server;

/// <summary>
/// A certificate authority made for one test and trusted by that test's clients only, and the server certificates it
/// signs (for 127.0.0.1 and localhost), written as PEM files in a temporary directory of their own.
/// </summary>
public sealed class ThrowawayCa : IDisposable
{
    private readonly DirectoryInfo _directory = System.IO.Directory.CreateTempSubdirectory("easyim-ca-");
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public ThrowawayCa()
    {
        var request = new CertificateRequest("CN=EasyIm throwaway test CA", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(2));
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>Where <see cref="IssueServerCertificate"/> writes the server's certificate and key.</summary>
    public string CertificatePath => Path.Combine(_directory.FullName, "server.crt");
    public string KeyPath => Path.Combine(_directory.FullName, "server.key");

    /// <summary>A directory for anything else the test keeps beside the certificates; deleted with them.</summary>
    public string Directory => _directory.FullName;

    /// <summary>
    /// A server certificate for 127.0.0.1 and localhost, signed by this CA, written over <see cref="CertificatePath"/> and
    /// <see cref="KeyPath"/> (each replaced whole, the key first); returns its thumbprint.
    /// </summary>
    public string IssueServerCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        using var certificate = request.Create(Certificate, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(12));
        File.WriteAllText(KeyPath + ".new", key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(CertificatePath + ".new", certificate.ExportCertificatePem());
        File.Move(KeyPath + ".new", KeyPath, overwrite: true);
        File.Move(CertificatePath + ".new", CertificatePath, overwrite: true);
        return certificate.Thumbprint;
    }

    /// <summary>A client's check of the server: signed by this CA, for the name asked.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        EasyIm.Hosting.Tls.PrivateCa.Trusts(Certificate, certificate, errors);

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
        _directory.Delete(recursive: true);
    }
}
