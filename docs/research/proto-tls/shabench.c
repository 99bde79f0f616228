/* shabench — SHA-256 throughput: mbedTLS 2.28 (replacing collector/sha256.c), the
 * hand-written collector/sha256.c (copied out of /work/main for the comparison only),
 * OpenSSL 3 (SHA-NI on this CPU). 64 MiB in 64 KiB updates, best of 3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mbedtls/sha256.h>
#include <openssl/evp.h>
#include "/work/main/collector/sha256.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(void){
	size_t N = 64u<<20, B = 64u<<10; unsigned char *buf = malloc(B), d1[32], d2[32], d3[32];
	for (size_t i=0;i<B;i++) buf[i]=(unsigned char)(i*7);
	double best[3]={1e9,1e9,1e9};
	for (int r=0;r<3;r++){
		double t=now(); mbedtls_sha256_context m; mbedtls_sha256_init(&m); mbedtls_sha256_starts_ret(&m,0);
		for(size_t o=0;o<N;o+=B) mbedtls_sha256_update_ret(&m,buf,B); mbedtls_sha256_finish_ret(&m,d1); mbedtls_sha256_free(&m);
		t=now()-t; if(t<best[0])best[0]=t;
		t=now(); struct sha256_ctx c; sha256_init(&c); for(size_t o=0;o<N;o+=B) sha256_update(&c,buf,B); sha256_final(&c,d2);
		t=now()-t; if(t<best[1])best[1]=t;
		t=now(); EVP_MD_CTX *e=EVP_MD_CTX_new(); EVP_DigestInit_ex(e,EVP_sha256(),NULL); for(size_t o=0;o<N;o+=B) EVP_DigestUpdate(e,buf,B);
		unsigned l; EVP_DigestFinal_ex(e,d3,&l); EVP_MD_CTX_free(e); t=now()-t; if(t<best[2])best[2]=t;
	}
	printf("SHA-256 MB/s: mbedTLS 2.28 %.0f, collector/sha256.c %.0f, OpenSSL 3 %.0f; digests %s\n",
	       64/best[0], 64/best[1], 64/best[2], !memcmp(d1,d2,32)&&!memcmp(d1,d3,32)?"equal":"DIFFER");
	return 0;
}
