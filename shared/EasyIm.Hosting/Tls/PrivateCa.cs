using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace EasyIm.Hosting.Tls;

/// <summary>Trust in one private CA, for a peer whose certificate the system's trust store cannot check.</summary>
public static class PrivateCa
{
    /// <summary>
    /// True when <paramref name="certificate"/> chains to <paramref name="ca"/> and the handshake found nothing else
    /// wrong (the name, above all): the check for a <see cref="RemoteCertificateValidationCallback"/>.
    /// </summary>
    public static bool Trusts(X509Certificate2 ca, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0)
            return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(presented);
    }
}
